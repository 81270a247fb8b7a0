import type { JobQueue } from '../ports/job-queue.ts';
import type { TaskLauncher } from '../ports/task-launcher.ts';
import type { RunRegistry } from '../runs/registry.ts';
import type { TaskSize } from '../runs/schema.ts';

/** What ECS says about a task that stopped (the `detail` of an "ECS Task State Change" event). */
export interface StoppedTask {
  readonly taskArn: string;
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
  | { readonly status: 'failed'; readonly runId: string; readonly cause: string };

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

/**
 * A task stopped. If its run already recorded how it ended, nothing is to be done. Otherwise the run did not
 * finish (out of memory, never started, killed): it is marked interrupted with the cause and its job is sent
 * again after a backoff, one size larger after an out-of-memory kill, up to `maxRetries`; then it fails with
 * the cause. No system we learn from does this; a run's status has to tell the truth.
 */
export async function onTaskStopped(
  task: StoppedTask,
  deps: { runs: RunRegistry; queue: JobQueue; maxRetries?: number },
): Promise<ReconcileOutcome> {
  const found = await deps.runs.findByTask(task.taskArn);
  if (!found) return { status: 'ignored', reason: `no run was dispatched to ${task.taskArn}` };
  const { run, job } = found;
  if (run.status !== 'running' && run.status !== 'queued')
    return { status: 'ignored', reason: `run ${run.id} already ended (${run.status})` };
  const { cause, oom } = stopCause(task);
  const retries = job?.retry ?? 0;
  if (!job || retries >= (deps.maxRetries ?? 3)) {
    await deps.runs.fail(run.id, { code: 'TASK_STOPPED', message: cause, task: task.taskArn, retries });
    return { status: 'failed', runId: run.id, cause };
  }
  const current: TaskSize = job.size ?? (job.kind === 'build' ? 'medium' : 'small');
  const size = oom ? LARGER[current] : current;
  const delaySeconds = Math.min(900, 60 * 2 ** retries);
  await deps.runs.fail(
    run.id,
    { code: 'TASK_STOPPED', message: `${cause}; retrying`, task: task.taskArn, retries },
    undefined,
    'interrupted',
  );
  await deps.queue.send({ ...job, size, retry: retries + 1 }, { delaySeconds });
  return { status: 'retried', runId: run.id, cause, size, delaySeconds };
}

/**
 * The scheduled check: runs marked running whose heartbeat is older than `staleSeconds` belong to a task that
 * hangs (or vanished without an event); the task is stopped and the run retried like any stopped task. When
 * no task runs at all the database is not asked, so an idle account stays at 0 ACU.
 */
export async function checkHeartbeats(deps: {
  runs: RunRegistry;
  queue: JobQueue;
  launcher: TaskLauncher;
  staleSeconds?: number;
  maxRetries?: number;
}): Promise<ReconcileOutcome[]> {
  if ((await deps.launcher.running()) === 0) return [];
  const staleSeconds = deps.staleSeconds ?? 600;
  const out: ReconcileOutcome[] = [];
  for (const { task } of await deps.runs.staleRunning(staleSeconds)) {
    if (!task) continue;
    const reason = `no heartbeat for over ${staleSeconds} s`;
    await deps.launcher.stop(task, `Strata: ${reason}`).catch(() => {});
    out.push(
      await onTaskStopped(
        { taskArn: task, stopCode: 'HeartbeatLost', stoppedReason: reason },
        { runs: deps.runs, queue: deps.queue, maxRetries: deps.maxRetries },
      ),
    );
  }
  return out;
}
