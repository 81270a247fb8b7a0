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
  /**
   * Hides a received job for `visibilitySeconds` from now: a worker still at it says so with each
   * heartbeat, so a long job is never taken by a second worker. 0 makes it visible again at once.
   */
  extend(receipt: string, visibilitySeconds: number): Promise<void>;
  /** Jobs waiting, delayed or in flight (dead-lettered ones aside): whether anything is going on. */
  depth(): Promise<number>;
}
