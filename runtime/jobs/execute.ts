import { createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { buildProduct } from '../build/build.ts';
import type { Catalog } from '../catalog/loader.ts';
import { errorToJSON } from '../errors.ts';
import type { Platform } from '../platform.ts';
import type { JobMessage, Run } from '../runs/schema.ts';
import { runFetch } from './fetch.ts';
import type { JobHooks } from './hooks.ts';
import { runIngest } from './ingest.ts';
import { submit } from './submit.ts';

export { submit };

/** A local path for an ingress object: the file itself in a folder bucket, a download (to the task's disk) from S3. */
async function localCopy(p: Platform, key: string): Promise<string> {
  const located = p.store.locate('ingress', key);
  if (!located.includes('://')) return located;
  const dir = await mkdtemp(join(tmpdir(), 'strata-ingress-'));
  const path = join(dir, key.split('/').pop() || 'data');
  await pipeline(await p.store.get('ingress', key), createWriteStream(path));
  return path;
}

/** A job's own work, by kind. */
export type JobHandler = (
  p: Platform,
  catalog: Catalog,
  job: JobMessage,
  runId: string,
  hooks: JobHooks,
) => Promise<{ result: Record<string, unknown>; lineage: Record<string, unknown> }>;

const handlers: ReadonlyMap<JobMessage['kind'], JobHandler> = new Map<JobMessage['kind'], JobHandler>([
  [
    'ingest',
    async (p, catalog, job, runId, hooks) => {
      if (job.kind !== 'ingest') throw new Error('not an ingest job');
      const key = job.source.key;
      if (!job.source.path && !key) throw new Error('ingest job has neither a path nor an ingress key');
      const path = job.source.path ?? (await localCopy(p, key!));
      const origin = key
        ? { kind: 'upload' as const, from: `ingress/${key}` }
        : { kind: 'file' as const, from: path };
      return runIngest(
        p,
        catalog,
        { dataset: job.dataset, path, filename: job.filename, origin, runId },
        hooks,
      );
    },
  ],
  [
    'fetch',
    (p, catalog, job, runId, hooks) => {
      if (job.kind !== 'fetch') throw new Error('not a fetch job');
      return runFetch(p, catalog, job.dataset, hooks, fetch, runId);
    },
  ],
  [
    'build',
    (p, catalog, job, runId, hooks) => {
      if (job.kind !== 'build') throw new Error('not a build job');
      return buildProduct(p, catalog, job.product, runId, hooks);
    },
  ],
]);

/**
 * Runs one job and leaves its run with a truthful status. Idempotent by run id: a job whose run is already
 * running or finished (a second delivery) does nothing and returns that run.
 */
export async function executeJob(
  p: Platform,
  catalog: Catalog,
  job: JobMessage,
  hooks: JobHooks = {},
  options: { rebuildDependents?: boolean } = {},
): Promise<Run> {
  const run = await p.runs.start(job.runId);
  if (!run) return p.runs.get(job.runId);
  const handler = handlers.get(job.kind);
  try {
    if (!handler) throw new Error(`no handler for ${job.kind} jobs`);
    const { result, lineage } = await handler(p, catalog, job, run.id, hooks);
    const done = await p.runs.succeed(run.id, result, lineage);
    // The platform running by itself (serve, tasks) follows new inputs; the command line does what it is told.
    if (options.rebuildDependents) await rebuildDependents(p, catalog, job, result);
    return done;
  } catch (e) {
    return p.runs.fail(run.id, errorToJSON(e));
  }
}

/**
 * A dataset whose current version moved (a new version, or an older one sent again) makes every product that
 * reads it at `latest` worth building again: queue one build each. (A pinned input does not move, so its
 * product is left alone.)
 */
async function rebuildDependents(
  p: Platform,
  catalog: Catalog,
  job: JobMessage,
  result: Record<string, unknown>,
): Promise<void> {
  if (job.kind === 'build' || (result.current as { changed?: boolean } | undefined)?.changed !== true) return;
  for (const { product } of catalog.products.values()) {
    const reads = Object.values(product.inputs).some(
      (i) => i.dataset === job.dataset && i.version === 'latest',
    );
    if (reads)
      await submit(
        p,
        { kind: 'build', product: product.name },
        { kind: 'input', detail: { dataset: job.dataset, version: result.version } },
      );
  }
}

const VISIBILITY_SECONDS = 15 * 60;

/**
 * Works the queue until the run `until` has finished: the in-process task launcher. Jobs queued before
 * it are done first, as any worker would; a job taken by another worker is waited for.
 */
export async function workUntil(
  p: Platform,
  catalog: Catalog,
  until: string,
  hooks: JobHooks = {},
  pollMs = 500,
): Promise<Run> {
  for (;;) {
    const current = await p.runs.get(until);
    if (current.status !== 'queued' && current.status !== 'running') return current;
    const [received] = await p.queue.receive(1, VISIBILITY_SECONDS);
    if (!received) {
      await new Promise((r) => setTimeout(r, pollMs));
      continue;
    }
    await executeJob(p, catalog, received.job, received.job.runId === until ? hooks : {});
    await p.queue.delete(received.receipt);
  }
}
