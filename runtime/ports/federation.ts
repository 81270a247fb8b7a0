import type { KeyObject } from 'node:crypto';
import type { SignedSummary } from '../federation/summary.ts';

/** A child's link to its core: who it is, the key it signs with, and how its summaries travel. */
export interface Federation {
  /** The child's name, as the core's config knows it. */
  readonly child: string;
  /** Where summaries go, for the run's record (an event bus ARN, a URL). */
  readonly destination: string;
  signingKey(): Promise<KeyObject>;
  send(signed: SignedSummary): Promise<void>;
}
