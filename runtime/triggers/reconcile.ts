import type { JobMessage, JobQueue, TaskSize } from '../ports/job-queue.ts';
import type { TaskLauncher } from '../ports/task-launcher.ts';
import { MAX_ATTEMPTS, type RunRegistry, STALE_CLAIM_SECONDS } from '../runs/registry.ts';
import type { Run } from '../runs/schema.ts';

/** What ECS says about a task that stopped (the `detail` of an "ECS Task State Change" event). */
export interface StoppedTask {
  readonly taskArn: string;
  /** `strata-<run id>`, as the launcher started it: finds the run even when its task was never recorded. */
  readonly startedBy?: string;
  readonly stopCode?: string;
  readonly stoppedReason?: string;
  readonly containers?: readonly { readonly exitCode?: number; readonly reason?: string }[];
}

export type ReconcileOutcome =
  | { readonly status: 'ignored'; readonly reason: string }
  | {
      readonly status: 'retried';
      readonly runId: string;
      readonly cause: string;
      readonly size: TaskSize;
      readonly delaySeconds: number;
    }
  | { readonly status: 'failed'; readonly runId: string; readonly cause: string }
  /** A claim left by a dispatcher that died: given back, and its job sent again. */
  | { readonly status: 'reclaimed'; readonly runId: string };

const LARGER: Record<TaskSize, TaskSize> = { small: 'medium', medium: 'large', large: 'large' };

/** Why a task stopped, in words a data engineer can act on; `oom` when memory ran out. */
export function stopCause(task: StoppedTask): { cause: string; oom: boolean } {
  const container = task.containers?.[0];
  if (
    container?.exitCode === 137 ||
    /OutOfMemory/i.test(`${container?.reason ?? ''} ${task.stoppedReason ?? ''}`)
  )
    return { cause: 'the task ran out of memory (exit code 137)', oom: true };
  if (task.stopCode === 'TaskFailedToStart')
    return { cause: `the task never started: ${task.stoppedReason ?? 'no reason given'}`, oom: false };
  return {
    cause: `the task stopped before its run finished: ${task.stoppedReason ?? task.stopCode ?? 'no reason given'}${
      container?.exitCode !== undefined ? ` (exit code ${container.exitCode})` : ''
    }`,
    oom: false,
  };
}

/** The run a stopped task was started for: by the task recorded on it, or by the run id it was started by. */
async function runOfTask(
  runs: RunRegistry,
  task: StoppedTask,
): Promise<{ run: Run; job: JobMessage | null } | undefined> {
  const found = await runs.claims.findByTask(task.taskArn);
  if (found) return found;
  const runId = /^strata-(.+)$/.exec(task.startedBy ?? '')?.[1];
  const dispatched = runId ? await runs.claims.dispatchOf(runId) : undefined;
  // A running run with no task recorded: the task that started it is this one, whose RunTask answer was
  // lost. (With another task recorded, that task's own events count.)
  if (!dispatched || dispatched.task !== null || dispatched.run.status !== 'running') return undefined;
  return { run: dispatched.run, job: dispatched.job };
}

/**
 * A task stopped. If its run already recorded how it ended, nothing is to be done. Otherwise the run did not
 * finish (out of memory, never started, killed, stopped by SIGTERM): it is marked interrupted with the cause
 * (unless its task already did so on SIGTERM) and its job is sent again after a backoff, one size larger
 * after an out-of-memory kill, up to `maxRetries`; then it fails with the cause.
 */
export async function onTaskStopped(
  task: StoppedTask,
  deps: { runs: RunRegistry; queue: JobQueue; maxRetries?: number },
): Promise<ReconcileOutcome> {
  const found = await runOfTask(deps.runs, task);
  if (!found) return { status: 'ignored', reason: `no run was dispatched to ${task.taskArn}` };
  const { run, job } = found;
  if (run.status === 'succeeded' || run.status === 'failed')
    return { status: 'ignored', reason: `run ${run.id} already ended (${run.status})` };
  const { cause, oom } = stopCause(task);
  const retries = job?.retry ?? 0;
  if (!job || retries >= (deps.maxRetries ?? MAX_ATTEMPTS - 1)) {
    await deps.runs.fail(run.id, {
      code: 'TASK_STOPPED',
      message: job ? `${cause}; gave up after ${retries + 1} attempts` : `${cause}; its job was not recorded`,
      task: task.taskArn,
      retries,
    });
    return { status: 'failed', runId: run.id, cause };
  }
  const current: TaskSize = job.size ?? (job.kind === 'build' ? 'medium' : 'small');
  const size = oom ? LARGER[current] : current;
  const delaySeconds = Math.min(900, 60 * 2 ** retries);
  // A task stopped by SIGTERM marked its run interrupted itself: its cause is kept, and no second attempt
  // is recorded for the same stop.
  if (run.status !== 'interrupted')
    await deps.runs.fail(
      run.id,
      { code: 'TASK_STOPPED', message: `${cause}; retrying`, task: task.taskArn, retries },
      undefined,
      'interrupted',
    );
  await deps.runs.claims.releaseTask(run.id);
  await deps.queue.send({ ...job, size, retry: retries + 1 }, { delaySeconds });
  return { status: 'retried', runId: run.id, cause, size, delaySeconds };
}

/**
 * The scheduled check. It looks at the database only while something is going on (a task runs, or the jobs
 * queue holds a message), so an idle account stays at 0 ACU. Then: runs marked running whose heartbeat is
 * older than `staleSeconds` belong to a task that hangs (or vanished without an event): the task is stopped
 * and the run retried like any stopped task; claims left by a dispatcher that died are given back and their
 * jobs sent again; interrupted runs whose stop event never came are retried.
 */
export async function checkHeartbeats(deps: {
  runs: RunRegistry;
  queue: JobQueue;
  launcher: TaskLauncher;
  staleSeconds?: number;
  staleClaimSeconds?: number;
  maxRetries?: number;
}): Promise<ReconcileOutcome[]> {
  if ((await deps.launcher.running()) === 0 && (await deps.queue.depth()) === 0) return [];
  const staleSeconds = deps.staleSeconds ?? 600;
  const out: ReconcileOutcome[] = [];
  const stopped = (taskArn: string, stopCode: string, stoppedReason: string) =>
    onTaskStopped(
      { taskArn, stopCode, stoppedReason },
      { runs: deps.runs, queue: deps.queue, maxRetries: deps.maxRetries },
    );
  for (const { run, task } of await deps.runs.staleRunning(staleSeconds)) {
    const reason = `no heartbeat for over ${staleSeconds} s`;
    if (task && !task.startsWith('claim:')) {
      await deps.launcher.stop(task, `Strata: ${reason}`).catch(() => {});
      out.push(await stopped(task, 'HeartbeatLost', reason));
    } else {
      // Started by a task whose RunTask answer was lost: nothing to stop, the run is retried all the same.
      const job = await deps.runs.jobOf(run.id);
      const ended = await deps.runs.interrupt(
        run.id,
        { code: 'TASK_STOPPED', message: `${reason}; retrying` },
        { maxAttempts: (deps.maxRetries ?? MAX_ATTEMPTS - 1) + 1, staleSeconds },
      );
      if (ended?.status === 'interrupted' && job) {
        await deps.queue.send({ ...job, retry: (job.retry ?? 0) + 1 }, { delaySeconds: 60 });
        out.push({
          status: 'retried',
          runId: run.id,
          cause: reason,
          size: job.size ?? 'small',
          delaySeconds: 60,
        });
      } else if (ended) out.push({ status: 'failed', runId: run.id, cause: reason });
    }
  }
  for (const { run, job } of await deps.runs.claims.releaseStaleClaims(
    deps.staleClaimSeconds ?? STALE_CLAIM_SECONDS,
  )) {
    if (job) {
      await deps.queue.send(job);
      out.push({ status: 'reclaimed', runId: run.id });
    } else {
      await deps.runs.fail(run.id, {
        code: 'DISPATCH_FAILED',
        message: 'its dispatcher stopped before starting a task, and its job was not recorded',
      });
      out.push({ status: 'failed', runId: run.id, cause: 'no job recorded' });
    }
  }
  for (const { task } of await deps.runs.claims.staleInterrupted(staleSeconds))
    out.push(
      await stopped(task, 'StopEventLost', `interrupted over ${staleSeconds} s ago and never retried`),
    );
  return out;
}
