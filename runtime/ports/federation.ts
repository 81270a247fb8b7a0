import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { Name } from '../catalog/schema.ts';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex sha256');

/** What a child tells the core after each publish: enough to say what it publishes, how fresh, and what failed. */
export const PublishSummary = z.strictObject({
  /** The child's environment name, as the core's config knows it. */
  child: z.string().regex(/^[a-z][a-z0-9-]*$/),
  /** A catalog name: it becomes a key (and, locally, a file name) in the core's freshness table. */
  product: Name,
  version: z.string().min(1),
  runId: z.string().min(1),
  /** The published manifest: its key in the child's egress bucket and the sha256 of its bytes. */
  manifest: z.strictObject({ key: z.string().min(1), sha256: Sha256 }),
  /** Rows of each output, by output name. */
  rows: z.record(z.string(), z.number().int().nonnegative()),
  checks: z.array(
    z.strictObject({
      name: z.string(),
      severity: z.enum(['error', 'warn']),
      passed: z.boolean(),
      count: z.number(),
    }),
  ),
  /** When the latest pointer was written. */
  publishedAt: z.iso.datetime(),
  /** The catalog the build ran with (null where the catalog was not opened through a pack). */
  catalogSha256: Sha256.nullable(),
  /** The product's schedule, so the core can tell a late product from a quiet one. */
  schedule: z.string().optional(),
  /**
   * The versions of the child's own products this version read (product-to-product lineage), so the core
   * can tell what a product was built from; absent when it read only datasets.
   */
  upstream: z
    .array(z.strictObject({ product: Name, output: z.string(), version: z.string().min(1) }))
    .optional(),
});
export type PublishSummary = z.infer<typeof PublishSummary>;

/** A summary and its Ed25519 signature over the summary's canonical JSON (base64). */
export const SignedSummary = z.strictObject({
  summary: z.record(z.string(), z.unknown()),
  signature: z.string().min(1),
});
export type SignedSummary = z.infer<typeof SignedSummary>;

/** JSON with object keys sorted at every level: the bytes a signature covers, whoever serialised the object. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/** The event a child puts on its default bus after each publish, and a rule forwards to the core's bus. */
export const FEDERATION_EVENT = { source: 'strata', detailType: 'ProductPublished' } as const;

/** A child's link to its core: who it is, the key it signs with, and how its summaries travel. */
export interface Federation {
  /** The child's name, as the core's config knows it. */
  readonly child: string;
  /** Where summaries go, for the run's record (an event bus ARN, a URL). */
  readonly destination: string;
  signingKey(): Promise<KeyObject>;
  send(signed: SignedSummary): Promise<void>;
}
