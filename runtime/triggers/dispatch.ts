import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../errors.ts';
import { JobMessage, type JobQueue } from '../ports/job-queue.ts';
import { CapacityError, sizeFor, type TaskLauncher } from '../ports/task-launcher.ts';
import type { RunRegistry } from '../runs/registry.ts';

export interface DispatchLog {
  info(message: string, detail?: Record<string, unknown>): void;
  warn(message: string, detail?: Record<string, unknown>): void;
}

export interface QueuedMessage {
  readonly id: string;
  readonly body: string;
}

/** How long a held-back job waits before it is looked at again: 30 s, doubling, at most SQS's 15 minutes. */
export function holdBackSeconds(held: number): number {
  return Math.min(900, 30 * 2 ** Math.min(5, held));
}

export interface DispatchDeps {
  readonly runs: RunRegistry;
  readonly launcher: TaskLauncher;
  readonly queue: JobQueue;
  readonly maxConcurrent: number;
  readonly log: DispatchLog;
}

/** One batch's doing: the messages to retry, the tasks started and the jobs held back so far. */
interface Batch {
  readonly retry: string[];
  started: number;
  held: number;
  /** Tasks running as ECS counted them before the batch, and those started since. */
  running: number;
}

/**
 * Starts one task per job in a batch and returns the ids of the messages to retry (SQS partial batch
 * failure) and how many tasks started. A job whose run is already claimed, running or finished is dropped,
 * so a second delivery never starts a second task; a claim left by a dispatcher that died is taken over.
 *
 * A job that cannot start for want of room (the concurrency cap, no Fargate capacity) is not a failure: it
 * is sent again with a growing delay as a new message, and this one is let go, so waiting never uses up
 * the deliveries after which SQS moves a job to the dead-letter queue. A RunTask error of any other kind
 * is retried by SQS (and noted on the run, so the dead-letter consumer can say why it failed); a message
 * that is not a job is retried until the dead-letter queue takes it.
 */
export async function dispatch(
  messages: readonly QueuedMessage[],
  deps: DispatchDeps,
): Promise<{ retry: string[]; started: number; held: number }> {
  const batch: Batch = { retry: [], started: 0, held: 0, running: await deps.launcher.running() };
  for (const m of messages) {
    const job = parseJob(m, deps, batch);
    if (job) await dispatchJob(m, job, deps, batch);
  }
  return { retry: batch.retry, started: batch.started, held: batch.held };
}

/** The job a message carries; a message that is not one is retried until the dead-letter queue takes it. */
function parseJob(m: QueuedMessage, deps: DispatchDeps, batch: Batch): JobMessage | undefined {
  try {
    return JobMessage.parse(JSON.parse(m.body));
  } catch (e) {
    deps.log.warn('not a job; left for the dead-letter queue', {
      messageId: m.id,
      error: (e as Error).message,
    });
    batch.retry.push(m.id);
    return undefined;
  }
}

async function dispatchJob(m: QueuedMessage, job: JobMessage, deps: DispatchDeps, batch: Batch) {
  if (batch.running >= deps.maxConcurrent) {
    await holdBack(
      m,
      job,
      `concurrency cap reached (${batch.running} of ${deps.maxConcurrent} tasks)`,
      deps,
      batch,
    );
    return;
  }
  const claim = `claim:${randomUUID()}`;
  // The ECS count above is a cheap first look; this is the check that holds when two dispatchers run at
  // once: the cap checked and the run claimed as one step in the database.
  let claimed: 'claimed' | 'capped' | 'taken';
  try {
    claimed = await deps.runs.claims.claimWithinCap(job.runId, claim, job, deps.maxConcurrent);
  } catch (e) {
    if (e instanceof NotFoundError) claimed = 'taken';
    else throw e;
  }
  if (claimed === 'capped')
    await holdBack(
      m,
      job,
      `concurrency cap reached (${deps.maxConcurrent} tasks running or starting)`,
      deps,
      batch,
    );
  else if (claimed === 'taken')
    deps.log.info('run is not waiting for a task; job dropped', { runId: job.runId });
  else await launch(m, job, claim, deps, batch);
}

/** Starts the task of a claimed run and records it; the claim is given back when it could not start. */
async function launch(m: QueuedMessage, job: JobMessage, claim: string, deps: DispatchDeps, batch: Batch) {
  try {
    const task = await deps.launcher.launch(job, sizeFor(job));
    await deps.runs.claims.settleDispatch(job.runId, claim, task);
    batch.running++;
    batch.started++;
    deps.log.info('task started', { runId: job.runId, task, size: sizeFor(job) });
  } catch (e) {
    await deps.runs.claims.settleDispatch(job.runId, claim, null);
    if (e instanceof CapacityError) {
      await holdBack(m, job, `no capacity (${e.message})`, deps, batch);
      return;
    }
    const error = (e as Error).message;
    await deps.runs.claims.noteDispatchFailure(job.runId, {
      code: 'DISPATCH_FAILED',
      message: `the task could not be started: ${error}`,
    });
    deps.log.warn('RunTask failed; job retried', { runId: job.runId, error });
    batch.retry.push(m.id);
  }
}

/** Sends the job again later as a new message; the current one is retried only if that send fails. */
async function holdBack(m: QueuedMessage, job: JobMessage, why: string, deps: DispatchDeps, batch: Batch) {
  const next = (job.held ?? 0) + 1;
  const delaySeconds = holdBackSeconds(job.held ?? 0);
  try {
    await deps.queue.send({ ...job, held: next }, { delaySeconds });
    batch.held++;
    deps.log.info(`${why}; job held back`, { runId: job.runId, delaySeconds, held: next });
  } catch (e) {
    deps.log.warn(`${why}; could not hold the job back, so it is retried`, {
      runId: job.runId,
      error: (e as Error).message,
    });
    batch.retry.push(m.id);
  }
}
