import { JobMessage } from '../ports/job-queue.ts';
import type { RunRegistry } from '../runs/registry.ts';
import type { DispatchLog, QueuedMessage } from './dispatch.ts';

export interface DeadLetterOutcome {
  /** Runs failed because their job went to the dead-letter queue. */
  readonly failed: string[];
  /** Messages that were not jobs at all (logged, with their id). */
  readonly unreadable: string[];
}

/**
 * Jobs SQS gave up on. A run whose job is here would otherwise stay queued for ever: it is failed with the
 * reason (what its last dispatch said, when it said anything). A run that is running or has ended is left
 * as it is; a message that is no job is logged and dropped, as nothing can be done with it.
 */
export async function onDeadLetters(
  messages: readonly QueuedMessage[],
  deps: { runs: RunRegistry; log: DispatchLog },
): Promise<DeadLetterOutcome> {
  const failed: string[] = [];
  const unreadable: string[] = [];
  for (const m of messages) {
    let job: JobMessage;
    try {
      job = JobMessage.parse(JSON.parse(m.body));
    } catch (e) {
      deps.log.warn('a message that is not a job reached the dead-letter queue; dropped', {
        messageId: m.id,
        bytes: m.body.length,
        error: (e as Error).message.slice(0, 300),
      });
      unreadable.push(m.id);
      continue;
    }
    const run = await deps.runs.get(job.runId).catch(() => undefined);
    if (!run) {
      deps.log.warn('dead-lettered job for a run that does not exist; dropped', { runId: job.runId });
      continue;
    }
    if (run.status !== 'queued' && run.status !== 'interrupted') {
      deps.log.info('dead-lettered job of a run that is not waiting; left alone', {
        runId: run.id,
        status: run.status,
      });
      continue;
    }
    const last = typeof run.error?.message === 'string' ? run.error.message : undefined;
    await deps.runs.fail(run.id, {
      code: 'DEAD_LETTER',
      message: `its job could not be dispatched and went to the dead-letter queue${last ? `: ${last}` : ''}`,
      ...(run.error ? { previous: run.error } : {}),
    });
    failed.push(run.id);
    deps.log.warn('run failed: its job went to the dead-letter queue', { runId: run.id });
  }
  return { failed, unreadable };
}
