import { z } from 'zod';
import type { CostLedger } from '../cost/ledger.ts';

export const RunKind = z.enum(['ingest', 'load', 'build', 'fetch']);
export type RunKind = z.infer<typeof RunKind>;

export const RunStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'interrupted']);
export type RunStatus = z.infer<typeof RunStatus>;

export const Trigger = z.object({
  kind: z.enum(['cli', 'upload', 'schedule', 'webhook', 'api', 'retry', 'demo', 'input', 'console']),
  by: z.string().optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
});
export type Trigger = z.infer<typeof Trigger>;

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

/** One attempt of a run: when it started (never, for a task that could not start), how it ended and why. */
export interface RunAttempt {
  readonly attempt: number;
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly status: 'succeeded' | 'failed' | 'interrupted' | 'redriven' | null;
  readonly cause: Record<string, unknown> | null;
  readonly worker: string | null;
}

export interface Run {
  readonly id: string;
  readonly kind: RunKind;
  readonly target: string;
  readonly trigger: Trigger;
  readonly status: RunStatus;
  readonly attempts: number;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly error: Record<string, unknown> | null;
  readonly lineage: Record<string, unknown> | null;
  readonly result: Record<string, unknown> | null;
  /** The sha256 of the catalog the run worked with (see runtime/catalog/bundle.ts). */
  readonly catalogSha256: string | null;
  /** What the run used and cost (see runtime/cost/ledger.ts), once it has finished. */
  readonly cost: CostLedger | null;
}
