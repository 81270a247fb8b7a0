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
  /** The sha256 of the catalog the run worked with (see runtime/catalog-files/bundle.ts). */
  readonly catalogSha256: string | null;
  /** What the run used and cost (see runtime/cost/ledger.ts), once it has finished. */
  readonly cost: CostLedger | null;
}
