import { Worker } from 'node:worker_threads';
import type { CopyChunk } from '../ports/database.ts';
import type { FeatureText } from './geojson-features.ts';
import {
  BatchBuilder,
  type FeatureProblem,
  FeatureProblemError,
  type RowSpec,
  RowWriter,
} from './geojson-rows.ts';

const BATCH_BYTES = 1 << 20;
/** Batches in flight at once: enough to keep the worker busy, few enough to bound memory. */
const IN_FLIGHT = 2;

type Reply = { data: Uint8Array; rows: number } | { problem: FeatureProblem };

/**
 * Turns features into COPY chunks on a worker thread, in order. The worker registers tsx's loader first, as
 * this code runs from TypeScript sources (the command line, the task image).
 */
export async function* rowsOnWorker(
  features: AsyncIterable<FeatureText>,
  spec: RowSpec,
): AsyncGenerator<CopyChunk> {
  // A bounded young generation keeps the worker's heap (and so the process's RSS) from growing with the file.
  const worker = new Worker(new URL('./geojson-worker.mjs', import.meta.url), {
    workerData: spec,
    resourceLimits: { maxYoungGenerationSizeMb: 16 },
  });
  const waiting: ((r: Reply) => void)[] = [];
  let failure: Error | undefined;
  const fail = (e: Error) => {
    failure ??= e;
    for (const w of waiting.splice(0)) w({ problem: { feature: -1, reason: e.message } });
  };
  worker.on('message', (r: Reply) => waiting.shift()?.(r));
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the row worker exited (code ${code})`)));
  const pending: Promise<Reply>[] = [];
  const send = (builder: BatchBuilder) => {
    if (failure) throw failure;
    const batch = builder.take();
    pending.push(new Promise<Reply>((resolve) => waiting.push(resolve)));
    worker.postMessage(batch, [batch.bytes.buffer as ArrayBuffer]);
  };
  const receive = async (): Promise<CopyChunk> => {
    const r = await pending.shift()!;
    if ('problem' in r) throw new FeatureProblemError(r.problem);
    return { data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength), rows: r.rows };
  };
  try {
    const builder = new BatchBuilder();
    let index = 0;
    for await (const f of features) {
      builder.add(f, index++);
      if (builder.size >= BATCH_BYTES) {
        send(builder);
        if (pending.length >= IN_FLIGHT) yield await receive();
      }
    }
    if (builder.count > 0) send(builder);
    while (pending.length > 0) yield await receive();
  } finally {
    await worker.terminate();
  }
}

/** The same rows in this thread: for small files, where starting a worker costs more than it saves. */
export async function* rowsInline(
  features: AsyncIterable<FeatureText>,
  spec: RowSpec,
  chunkBytes: number,
): AsyncGenerator<CopyChunk> {
  const rows = new RowWriter(spec);
  let index = 0;
  for await (const f of features) {
    rows.add(f, index++);
    if (rows.size >= chunkBytes) yield rows.take();
  }
  if (rows.rows > 0) yield rows.take();
}
