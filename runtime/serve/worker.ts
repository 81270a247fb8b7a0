import { showJobs, showJobsOfRun, takenJobs } from '../adapters/local/table-job-queue.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import { isDatabaseUnavailable } from '../db/transient.ts';
import { type ExecuteOptions, executeJob, RunInterruptedError } from '../jobs/execute.ts';
import type { Platform } from '../platform/platform.ts';
import type { ReceivedJob } from '../ports/job-queue.ts';
import { MAX_ATTEMPTS } from '../runs/registry.ts';

export type WorkerLog = (message: string, detail?: Record<string, unknown>) => void;

export interface WorkLoopOptions {
  readonly stopping: () => boolean;
  /** How long an empty queue is left before it is looked at again. @default 500 */
  readonly idleMs?: number;
  /** How long a received job stays hidden; every heartbeat hides it that long again. @default 300 */
  readonly visibilitySeconds?: number;
  /** Well under the staleness after which other processes take a run as orphaned, and under the visibility. */
  readonly heartbeatMs: number;
  readonly log: WorkerLog;
  readonly name: string;
  /** Attempts after which an interrupted run fails with its cause. @default MAX_ATTEMPTS */
  readonly maxAttempts?: number;
  /** The longest pause after errors (doubling from half a second). @default 30 000 */
  readonly maxBackoffMs?: number;
  readonly execute?: Pick<ExecuteOptions, 'maxUploadBytes'>;
  /** Repeats `fn` every `ms` until the returned function is called (tests drive it by hand). */
  readonly every?: (ms: number, fn: () => void) => () => void;
  /** Waits `ms`, or less once the loop is stopping. */
  readonly wait?: (ms: number) => Promise<void>;
}

const defaultEvery = (ms: number, fn: () => void) => {
  const timer = setInterval(fn, ms);
  return () => clearInterval(timer);
};
const defaultWait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const message = (e: unknown) => (e as Error)?.message ?? String(e);

/**
 * One worker: takes a job from the queue, runs it (heartbeating its run and keeping the job hidden while it
 * works), deletes it, and looks again. It stops taking jobs when `stopping()` says so; a job it holds then is
 * finished first. It never dies of an error outside a job: a database that went away pauses it (the run it
 * held is recorded as interrupted, and retried, once the database answers again), anything else is logged
 * and backed off from, and the job is left on the queue to come back.
 */
export async function workLoop(p: Platform, catalog: Catalog, options: WorkLoopOptions): Promise<void> {
  const every = options.every ?? defaultEvery;
  const wait = options.wait ?? defaultWait;
  const visibility = options.visibilitySeconds ?? 300;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  let failures = 0;
  const backoff = () => wait(Math.min(maxBackoff, 500 * 2 ** Math.min(16, failures - 1)));

  while (!options.stopping()) {
    let received: ReceivedJob | undefined;
    try {
      [received] = await p.queue.receive(1, visibility);
    } catch (e) {
      failures++;
      if (isDatabaseUnavailable(e)) await untilDatabaseAnswers(p, options, backoff, message(e));
      else {
        options.log(`${options.name}: could not take a job (${message(e)}); trying again`);
        await backoff();
      }
      continue;
    }
    if (!received) {
      failures = 0;
      await wait(options.idleMs ?? 500);
      continue;
    }
    const { job, receipt } = received;
    options.log(
      `${options.name}: ${job.kind} ${job.kind === 'build' ? job.product : job.dataset} (run ${job.runId})`,
    );
    const stopBeat = every(options.heartbeatMs, () => {
      p.runs.heartbeat(job.runId).catch(() => {});
      p.queue.extend(receipt, visibility).catch(() => {});
    });
    try {
      const run = await executeJob(
        p,
        catalog,
        job,
        {},
        {
          rebuildDependents: true,
          worker: options.name,
          ...options.execute,
        },
      );
      stopBeat();
      options.log(
        `${options.name}: run ${run.id} ${run.status}${run.error ? `: ${String(run.error.message)}` : ''}`,
      );
      await p.queue.delete(receipt);
      failures = 0;
    } catch (e) {
      stopBeat();
      failures++;
      if (isDatabaseUnavailable(e)) await untilDatabaseAnswers(p, options, backoff, message(e));
      else {
        options.log(`${options.name}: run ${job.runId}: ${message(e)}; the job is left to come back`);
        await backoff();
      }
      // The run was started here and its end could not be recorded: record it now, and let the job come
      // back at once to retry it (or to be deleted, if it has had its attempts).
      if (e instanceof RunInterruptedError) await interruptAndRelease(p, options, e, receipt);
    }
  }
}

/** Pauses until the database answers `SELECT 1` (or the worker is stopping). */
async function untilDatabaseAnswers(
  p: Platform,
  options: WorkLoopOptions,
  backoff: () => Promise<void>,
  why: string,
): Promise<void> {
  options.log(`${options.name}: the database is unavailable (${why}); pausing until it answers`);
  for (;;) {
    await backoff();
    if (options.stopping()) return;
    try {
      await p.db.query('SELECT 1');
      options.log(`${options.name}: the database answers again; resuming`);
      return;
    } catch {
      // still away
    }
  }
}

async function interruptAndRelease(
  p: Platform,
  options: WorkLoopOptions,
  e: RunInterruptedError,
  receipt: string,
): Promise<void> {
  try {
    const run = await p.runs.interrupt(
      e.runId,
      isDatabaseUnavailable(e.cause)
        ? {
            code: 'DATABASE_UNAVAILABLE',
            message: `the database went away while the run was working: ${message(e.cause)}`,
          }
        : { code: 'WORKER_ERROR', message: `its worker could not record how it ended: ${message(e.cause)}` },
      { maxAttempts: options.maxAttempts ?? MAX_ATTEMPTS },
    );
    if (run) options.log(`${options.name}: run ${run.id} ${run.status}: ${String(run.error?.message)}`);
    await p.queue.extend(receipt, 0);
  } catch (again) {
    // Still away, or gone again: orphan recovery finds the run by its stale heartbeat.
    options.log(`${options.name}: could not record run ${e.runId} as interrupted yet: ${message(again)}`);
  }
}

/**
 * Runs marked running whose worker is gone (killed mid-job) are marked interrupted, with the cause, and
 * their jobs made visible again (or sent again, from the run, if none is left), so they are retried; a run
 * that has had `maxAttempts` fails with the cause instead. With the embedded database only one process can
 * hold it, so every running run is orphaned; with a shared server only those whose heartbeat is older than
 * `staleSeconds`.
 */
export async function recoverOrphans(
  p: Platform,
  staleSeconds: number | 'all',
  maxAttempts = MAX_ATTEMPTS,
): Promise<string[]> {
  const stale = await p.runs.staleRunning(staleSeconds === 'all' ? 0 : staleSeconds);
  const recovered: string[] = [];
  // A job taken by a worker that died before it deleted the job would stay hidden for its whole
  // visibility: let it come back now (to be done, or deleted and the rebuilds it owes queued). With the
  // embedded database every job taken is a dead process's; with a server, those whose run ended a while ago.
  const taken = await takenJobs(p.db);
  const endedAWhileAgo =
    staleSeconds === 'all'
      ? undefined
      : new Set(await p.runs.endedBefore([...new Set(taken.map((j) => j.runId))], staleSeconds));
  await showJobs(
    p.db,
    taken.filter((j) => !endedAWhileAgo || endedAWhileAgo.has(j.runId)).map((j) => j.id),
  );
  for (const { run } of stale) {
    const ended = await p.runs.interrupt(
      run.id,
      { code: 'INTERRUPTED', message: 'its worker stopped before the run finished' },
      { maxAttempts, ...(staleSeconds === 'all' ? {} : { staleSeconds }) },
    );
    if (!ended) continue;
    recovered.push(run.id);
    if (ended.status !== 'interrupted') continue;
    if ((await showJobsOfRun(p.db, run.id)) > 0) continue;
    // Its job was deleted (taken twice, or by a worker that lost the database): send it again from the run.
    const job = await p.runs.jobOf(run.id);
    if (job) await p.queue.send(job);
    else
      await p.runs.fail(run.id, {
        code: 'INTERRUPTED',
        message: 'its worker stopped before the run finished, and its job was not recorded to retry it',
      });
  }
  return recovered;
}
