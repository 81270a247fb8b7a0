import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../errors.ts';
import { CapacityError, sizeFor, type TaskLauncher } from '../ports/task-launcher.ts';
import type { RunRegistry } from '../runs/registry.ts';
import { JobMessage } from '../runs/schema.ts';

export interface DispatchLog {
  info(message: string, detail?: Record<string, unknown>): void;
  warn(message: string, detail?: Record<string, unknown>): void;
}

export interface QueuedMessage {
  readonly id: string;
  readonly body: string;
}

/**
 * Starts one task per job in a batch and returns the ids of the messages to retry (SQS partial batch
 * failure): a RunTask error or a full concurrency cap retries only that message. A job whose run is already
 * claimed, running or finished is dropped, so a second delivery never starts a second task; a message that is
 * not a job is retried until the dead-letter queue takes it (and its alarm says so).
 */
export async function dispatch(
  messages: readonly QueuedMessage[],
  deps: { runs: RunRegistry; launcher: TaskLauncher; maxConcurrent: number; log: DispatchLog },
): Promise<{ retry: string[]; started: number }> {
  const retry: string[] = [];
  let started = 0;
  let running = await deps.launcher.running();
  for (const m of messages) {
    let job: JobMessage;
    try {
      job = JobMessage.parse(JSON.parse(m.body));
    } catch (e) {
      deps.log.warn('not a job; left for the dead-letter queue', {
        messageId: m.id,
        error: (e as Error).message,
      });
      retry.push(m.id);
      continue;
    }
    if (running >= deps.maxConcurrent) {
      deps.log.info('concurrency cap reached; job retried later', {
        runId: job.runId,
        running,
        cap: deps.maxConcurrent,
      });
      retry.push(m.id);
      continue;
    }
    const claim = `claim:${randomUUID()}`;
    let claimed: boolean;
    try {
      claimed = await deps.runs.claimForDispatch(job.runId, claim, job);
    } catch (e) {
      if (e instanceof NotFoundError) claimed = false;
      else throw e;
    }
    if (!claimed) {
      deps.log.info('run is not waiting for a task; job dropped', { runId: job.runId });
      continue;
    }
    try {
      const task = await deps.launcher.launch(job, sizeFor(job));
      await deps.runs.settleDispatch(job.runId, claim, task);
      running++;
      started++;
      deps.log.info('task started', { runId: job.runId, task, size: sizeFor(job) });
    } catch (e) {
      await deps.runs.settleDispatch(job.runId, claim, null);
      deps.log.warn(e instanceof CapacityError ? 'no capacity; job retried' : 'RunTask failed; job retried', {
        runId: job.runId,
        error: (e as Error).message,
      });
      retry.push(m.id);
    }
  }
  return { retry, started };
}
