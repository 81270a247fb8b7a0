import type { JobMessage } from '../runs/schema.ts';

export interface ReceivedJob {
  readonly job: JobMessage;
  /** Opaque handle for `delete`: a row id locally, a receipt handle on SQS. */
  readonly receipt: string;
  /** How many times the job has been received, this time included. */
  readonly receives: number;
}

export interface JobQueue {
  /** Sends a job, visible after `delaySeconds` (at most 900, as on SQS). */
  send(job: JobMessage, options?: { delaySeconds?: number }): Promise<void>;
  /** Takes up to `max` visible jobs and hides them for `visibilitySeconds`; at-least-once, like SQS. */
  receive(max: number, visibilitySeconds: number): Promise<ReceivedJob[]>;
  delete(receipt: string): Promise<void>;
}
