// A worker thread that turns batches of GeoJSON features into COPY rows, so a large load uses a second core
// while the main thread cuts the document into features and streams rows to the database.
import { parentPort, workerData } from 'node:worker_threads';
import { type FeatureBatch, FeatureProblemError, type RowSpec, RowWriter, unpack } from './geojson-rows.ts';

const rows = new RowWriter(workerData as RowSpec);

parentPort!.on('message', (batch: FeatureBatch) => {
  try {
    const features = unpack(batch);
    features.forEach((f, k) => {
      rows.add(f, batch.firstIndex + k);
    });
    const { data, rows: count } = rows.take();
    const out = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    parentPort!.postMessage({ data: out, rows: count }, [out.buffer as ArrayBuffer]);
  } catch (e) {
    rows.take();
    if (e instanceof FeatureProblemError) parentPort!.postMessage({ problem: e.problem });
    else parentPort!.postMessage({ problem: { feature: batch.firstIndex, reason: (e as Error).message } });
  }
});
