import type { PublishSummary } from './federation.ts';

/** A child's latest verified summary of one product, and when the core took it. */
export interface FreshnessEntry {
  readonly summary: PublishSummary;
  readonly receivedAt: string;
}

/** A summary the core refused, and why. */
export interface RefusedEntry {
  /** The child it claimed to come from, when it said. */
  readonly child: string | null;
  readonly receivedAt: string;
  readonly reason: string;
  readonly product?: string;
  readonly version?: string;
  /** The AWS account it came from, when the transport says (EventBridge does, and cannot be lied to). */
  readonly sourceAccount?: string;
}

/** The core's freshness table: per child and product, the latest summary; and the refusals. */
export interface FreshnessStore {
  /**
   * Keeps `entry` as its child's latest summary of its product, unless one published later is kept already
   * (a delivery out of order or repeated). Returns whether it was kept.
   */
  record(entry: FreshnessEntry): Promise<boolean>;
  refuse(entry: RefusedEntry): Promise<void>;
  read(): Promise<{ latest: FreshnessEntry[]; refused: RefusedEntry[] }>;
}
