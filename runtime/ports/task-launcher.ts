import type { JobMessage, TaskSize } from './job-queue.ts';

/** Fargate had no capacity (or the account hit a limit): worth retrying later, unlike a bad request. */
export class CapacityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CapacityError';
  }
}

export interface TaskLauncher {
  /** Starts one task for one job; returns its id (a task ARN on ECS). */
  launch(job: JobMessage, size: TaskSize): Promise<string>;
  /** Tasks running or starting now, for the concurrency cap. */
  running(): Promise<number>;
  /** Stops a task that no longer does its work (a hung one). */
  stop(task: string, reason: string): Promise<void>;
}

/** The size a job asks for, or the one its kind usually needs. */
export function sizeFor(job: JobMessage): TaskSize {
  return job.size ?? (job.kind === 'build' ? 'medium' : 'small');
}
