import type { CheckResult } from '../errors.ts';
import type { LockedInput } from '../products/plan.ts';
import type { QaSummary } from '../qa/schema.ts';
import type { PublishedFile } from './export.ts';

/** `products/<name>/<version>/manifest.json`: what was built, from what, and how it was checked. */
export interface Manifest {
  readonly product: string;
  readonly title?: string;
  readonly version: string;
  readonly runId: string;
  readonly builtAt: string;
  readonly platform: { readonly name: 'strata'; readonly version: string; readonly engine: string };
  readonly inputs: readonly LockedInput[];
  readonly steps: readonly { readonly file: string; readonly ms: number }[];
  readonly checks: readonly CheckResult[];
  readonly outputs: readonly PublishedFile[];
  /** The QA report beside the manifest (`qa.html`, `qa.json`) and its figures in short. */
  readonly qa?: QaSummary;
  readonly timings: Readonly<Record<string, number>>;
}

/** `products/<name>/latest.json`, written only after every object of the version is in place. */
export interface LatestPointer {
  readonly product: string;
  readonly version: string;
  readonly manifest: string;
  readonly publishedAt: string;
}
