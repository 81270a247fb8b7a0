import { z } from 'zod';

/** The Fargate task size a job runs on (its CPU, memory and disk are the stack's, per size). */
export const TaskSize = z.enum(['small', 'medium', 'large']);
export type TaskSize = z.infer<typeof TaskSize>;

/** What the queue carries: the run to do and what it needs to start. */
export const JobMessage = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('ingest'),
    runId: z.string(),
    size: TaskSize.optional(),
    /** How many times the reconciler has sent this job again after its task died. */
    retry: z.number().int().nonnegative().optional(),
    /** How many times the dispatcher has held it back (concurrency cap, no capacity): sets its backoff. */
    held: z.number().int().nonnegative().optional(),
    dataset: z.string(),
    /** Where the file is now: a local path, or an ingress key. */
    source: z.object({
      bucket: z.literal('ingress').optional(),
      key: z.string().optional(),
      path: z.string().optional(),
      /** The object version the event named: the task reads exactly it, never "the key now". */
      versionId: z.string().optional(),
      /** The size the event named: the bytes read must be exactly as many. */
      size: z.number().int().nonnegative().optional(),
    }),
    filename: z.string(),
  }),
  z.object({
    kind: z.literal('fetch'),
    runId: z.string(),
    size: TaskSize.optional(),
    retry: z.number().int().nonnegative().optional(),
    held: z.number().int().nonnegative().optional(),
    dataset: z.string(),
  }),
  z.object({
    kind: z.literal('build'),
    runId: z.string(),
    size: TaskSize.optional(),
    retry: z.number().int().nonnegative().optional(),
    held: z.number().int().nonnegative().optional(),
    product: z.string(),
  }),
  /** An operator's release of a quarantined file (from the console): its run is an ingest of the dataset. */
  z.object({
    kind: z.literal('release'),
    runId: z.string(),
    size: TaskSize.optional(),
    retry: z.number().int().nonnegative().optional(),
    held: z.number().int().nonnegative().optional(),
    dataset: z.string(),
    /** The file's id in quarantine (the version it becomes). */
    id: z.string(),
    reason: z.string(),
    /** Who released it, as the dataset's history records it. */
    actor: z.object({ trigger: z.string(), user: z.string().optional(), partner: z.string().optional() }),
  }),
]);
export type JobMessage = z.infer<typeof JobMessage>;

/** A job before its run exists. */
export type NewJob = JobMessage extends infer J
  ? J extends { runId: string }
    ? Omit<J, 'runId'>
    : never
  : never;

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
