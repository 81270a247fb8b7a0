import { createWriteStream } from 'node:fs';
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { downstreamOf } from '../catalog/graph.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import { Usage } from '../cost/usage.ts';
import { isDatabaseUnavailable } from '../db/transient.ts';
import { errorToJSON, LoadError, StrataError } from '../errors.ts';
import type { Platform } from '../platform/platform.ts';
import type { JobMessage } from '../ports/job-queue.ts';
import { buildProduct } from '../products/build.ts';
import { lockFingerprint, staleDependents } from '../products/freshness.ts';
import type { Run } from '../runs/schema.ts';
import type { JobHooks, JobOutcome } from '../runs/steps.ts';
import { notPlainFileUnder } from '../util/files.ts';
import { runFetch } from './fetch.ts';
import { runIngest } from './ingest.ts';
import { recordCost } from './record-cost.ts';
import { runReleaseJob } from './release.ts';
import { submitOnce } from './submit.ts';

type IngestJob = Extract<JobMessage, { kind: 'ingest' }>;

export interface ExecuteOptions {
  /** Queue builds of the products a new input makes stale (serve, tasks); the command line does what it is told. */
  readonly rebuildDependents?: boolean;
  /** The environment's upload limit, checked against the bytes read (not only against what the event said). */
  readonly maxUploadBytes?: number;
  /** Who runs the job, recorded with its attempt (a serve worker, an ECS task). */
  readonly worker?: string;
}

/**
 * Where the bytes of an uploaded object are, ready to archive: the file itself in a folder bucket (only a
 * regular file, reached through no link), or a download of exactly the object version the event named.
 * Either way the bytes must be as many as the event said and within the upload limit. Returns the path and
 * what to remove afterwards.
 */
async function ingressBytes(
  p: Platform,
  job: IngestJob,
  key: string,
  maxUploadBytes: number | undefined,
): Promise<{ path: string; cleanup?: string }> {
  const file = `ingress/${key}`;
  const expected = job.source.size;
  const limit = maxUploadBytes ?? Number.POSITIVE_INFINITY;
  const located = p.store.locate('ingress', key);
  if (!located.includes('://')) {
    const root = dirname(p.store.locate('ingress', 'x'));
    const refused = await notPlainFileUnder(root, located);
    if (refused) throw new LoadError({ file, reason: refused });
    const { size } = await lstat(located);
    if (size > limit)
      throw new LoadError({ file, reason: `is ${size} bytes, over the upload limit of ${limit}` });
    // Changed since the watcher announced it: its new state is announced (and taken) on its own.
    if (expected !== undefined && size !== expected)
      throw new LoadError({
        file,
        reason: `is ${size} bytes, not the ${expected} it had when it was announced`,
      });
    return { path: located };
  }
  const dir = await mkdtemp(join(tmpdir(), 'strata-ingress-'));
  const path = join(dir, key.split('/').pop() || 'data');
  let read = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      read += chunk.length;
      if (read > limit)
        done(new LoadError({ file, reason: `passed the upload limit of ${limit} bytes while it was read` }));
      else if (expected !== undefined && read > expected)
        done(new LoadError({ file, reason: `holds more than the ${expected} bytes its upload event named` }));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(
      await p.store.get('ingress', key, { versionId: job.source.versionId }),
      counted,
      createWriteStream(path),
    );
    if (expected !== undefined && read !== expected)
      throw new LoadError({
        file,
        reason: `is ${read} bytes, not the ${expected} its upload event named; send it again`,
      });
    return { path, cleanup: dir };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** A job's own work, for one kind of job. */
export type JobHandler<J extends JobMessage = JobMessage> = (
  p: Platform,
  catalog: Catalog,
  job: J,
  run: Run,
  hooks: JobHooks,
  options: ExecuteOptions,
) => Promise<JobOutcome>;

/** One handler for every kind of job: a new kind without its handler does not compile. */
type JobHandlers = { readonly [K in JobMessage['kind']]: JobHandler<Extract<JobMessage, { kind: K }>> };

async function ingestJob(
  p: Platform,
  catalog: Catalog,
  job: IngestJob,
  run: Run,
  hooks: JobHooks,
  options: ExecuteOptions,
): Promise<JobOutcome> {
  const key = job.source.key;
  if (!job.source.path && !key) throw new Error('ingest job has neither a path nor an ingress key');
  const { path, cleanup } = job.source.path
    ? { path: job.source.path, cleanup: undefined }
    : await ingressBytes(p, job, key!, options.maxUploadBytes);
  try {
    const origin = key
      ? {
          kind: 'upload' as const,
          from: `ingress/${key}`,
          ...(job.source.versionId ? { versionId: job.source.versionId } : {}),
        }
      : { kind: 'file' as const, from: path };
    return await runIngest(
      p,
      catalog,
      { dataset: job.dataset, path, filename: job.filename, origin, runId: run.id },
      hooks,
    );
  } finally {
    if (cleanup) await rm(cleanup, { recursive: true, force: true });
  }
}

const handlers: JobHandlers = {
  ingest: ingestJob,
  fetch: (p, catalog, job, run, hooks) => runFetch(p, catalog, job.dataset, hooks, fetch, run.id),
  // A build queued because an input moved has nothing to add if the build ahead of it already read it.
  build: (p, catalog, job, run, hooks) =>
    buildProduct(p, catalog, job.product, run.id, hooks, { skipIfPublished: run.trigger.kind === 'input' }),
  release: runReleaseJob,
};

/** The handler of this job's kind, typed for it. */
function runHandler(
  p: Platform,
  catalog: Catalog,
  job: JobMessage,
  run: Run,
  hooks: JobHooks,
  options: ExecuteOptions,
): Promise<JobOutcome> {
  const handler = handlers[job.kind] as JobHandler | undefined;
  if (!handler) throw new Error(`no handler for ${job.kind} jobs`);
  return handler(p, catalog, job, run, hooks, options);
}

/**
 * The job's run was started here but how it ended could not be recorded (the database went away, or the
 * recording itself failed). The run stays running until the worker can record that it was interrupted, and
 * have it retried: its job must not be deleted meanwhile. `cause` says what went wrong.
 */
export class RunInterruptedError extends StrataError {
  readonly code = 'INTERRUPTED';
  constructor(
    readonly runId: string,
    override readonly cause: unknown,
  ) {
    super(`run ${runId} was interrupted: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'RunInterruptedError';
  }
}

/**
 * Runs one job and leaves its run with a truthful status. Idempotent by run id: a job whose run is already
 * running or finished (a second delivery) does nothing and returns that run. When the database goes away
 * mid-job, the job is not failed: RunInterruptedError tells the worker to record the interruption once the
 * database is back, and the run is retried.
 */
export async function executeJob(
  p: Platform,
  catalog: Catalog,
  job: JobMessage,
  hooks: JobHooks = {},
  options: ExecuteOptions = {},
): Promise<Run> {
  const run = await p.runs.start(job.runId, options.worker);
  if (!run) {
    const current = await p.runs.get(job.runId);
    // A job delivered again after its run succeeded: the rebuilds it should have queued may have been lost
    // with the worker that ran it. Queueing them is idempotent, so look again.
    if (current.status === 'succeeded' && options.rebuildDependents)
      await rebuildDependents(p, catalog, job, current);
    return current;
  }
  if (catalog.sha256) await p.runs.setCatalog(run.id, catalog.sha256);
  // What the run asks of paid services, counted by the adapters, for its cost ledger.
  const usage = new Usage();
  let outcome: JobOutcome;
  try {
    outcome = await usage.run(() => runHandler(p, catalog, job, run, hooks, options));
  } catch (e) {
    // The database going away is no fault of the job's: the run is retried, not failed.
    if (isDatabaseUnavailable(e)) throw new RunInterruptedError(run.id, e);
    let failed: Run;
    try {
      failed = await p.runs.fail(run.id, { ...errorToJSON(e), ...heldBack(catalog, job, options) });
    } catch (recording) {
      throw new RunInterruptedError(run.id, recording);
    }
    return recordCost(p, failed, job, usage);
  }
  let done: Run;
  try {
    done = await p.runs.succeed(run.id, outcome.result, outcome.lineage);
  } catch (e) {
    throw new RunInterruptedError(run.id, e);
  }
  done = await recordCost(p, done, job, usage);
  // The platform running by itself (serve, tasks) follows new inputs, a product's new version as a dataset's;
  // the command line does what it is told. The run has succeeded: a failure to queue the rebuilds is logged
  // by the caller, never turned into a failed run. A failed run queues nothing: what reads it stays as it is.
  if (options.rebuildDependents) await rebuildDependents(p, catalog, job, done);
  return done;
}

/**
 * Queues a build of each product that reads what this run made new (a dataset's version, a product's
 * published version) at `latest` and has not yet been built from what it would read now, in build order
 * (runtime/products/freshness.ts says which wait for others). Once per product, published version and lock:
 * a retried run finds the build its first attempt queued instead of queueing another, and two upstreams of
 * one product finishing together queue it once. A build that published nothing new makes nothing stale, so
 * it queues only what was waiting for it.
 */
export async function rebuildDependents(
  p: Platform,
  catalog: Catalog,
  job: JobMessage,
  run: Run,
): Promise<Run[]> {
  // A build that was up to date published nothing, but what waited for it (runtime/products/freshness.ts)
  // may be stale through another input: it is queued now, and only if stale, so nothing moves for nothing.
  if (job.kind === 'build' && !run.result?.version) return [];
  const changed =
    job.kind === 'build'
      ? { kind: 'product' as const, name: job.product }
      : { kind: 'dataset' as const, name: job.dataset };
  const queued: Run[] = [];
  for (const stale of await staleDependents(p.db, catalog, changed, p.store)) {
    const product = stale.entry.product.name;
    const { run: build } = await submitOnce(
      p,
      { kind: 'build', product },
      {
        kind: 'input',
        detail: { [changed.kind]: changed.name, version: run.result?.version, run: run.id },
      },
      `rebuild:${product}:${stale.published?.version ?? 'none'}:${lockFingerprint(stale.lock)}`,
    );
    queued.push(build);
  }
  return queued;
}

/**
 * What a failed build leaves alone: the products that read it, directly or through others, are not queued
 * and keep reading its last published version. Said on the failed run, so whoever looks at it knows.
 */
function heldBack(catalog: Catalog, job: JobMessage, options: ExecuteOptions): Record<string, unknown> {
  if (job.kind !== 'build' || !options.rebuildDependents) return {};
  const products = downstreamOf(catalog.products, { kind: 'product', name: job.product }, true);
  return products.length === 0
    ? {}
    : {
        dependentsHeld: {
          products,
          reason: `the build of ${job.product} failed; not rebuilt, still reading its last published version: ${products.join(', ')}`,
        },
      };
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
    await executeJob(p, catalog, received.job, received.job.runId === until ? hooks : {}, {
      worker: 'cli',
    });
    await p.queue.delete(received.receipt);
  }
}
