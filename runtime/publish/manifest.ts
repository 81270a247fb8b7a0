import { z } from 'zod';
import { OUTPUT_FORMATS } from '../catalog/schema.ts';
import type { CheckResult } from '../errors.ts';

/*
 * The manifest is written, read back and served to partners as JSON whose bytes others hash and compare: the
 * keys of every object below are declared in the order the build has always written them, because parsing
 * yields them in the schema's order.
 */

/** One input of a build, resolved to an exact dataset version: a line of the build's lock. */
export const LockedDataset = z.object({
  alias: z.string(),
  dataset: z.string(),
  /** What the product asked for: `latest` or a pinned version id. */
  requested: z.string(),
  version: z.string(),
  sha256: z.string(),
  table: z.string(),
  rows: z.number(),
});
export type LockedDataset = z.infer<typeof LockedDataset>;

/** One input of a build resolved to an output of an exact published version of another product. */
export const LockedUpstream = z.object({
  alias: z.string(),
  product: z.string(),
  output: z.string(),
  requested: z.string(),
  version: z.string(),
  /** The sha256 of that version's manifest: the whole of what it published. */
  sha256: z.string(),
  /** Where the version's tables are kept in the database (runtime/publish/tables.ts). */
  schema: z.string(),
  table: z.string(),
  rows: z.number(),
});
export type LockedUpstream = z.infer<typeof LockedUpstream>;

// The upstream shape first: a dataset line has no `product`, and an upstream line parsed as a dataset
// would fail on its missing `dataset` anyway.
export const LockedInput = z.union([LockedUpstream, LockedDataset]);
export type LockedInput = z.infer<typeof LockedInput>;

export const isLockedUpstream = (i: LockedInput): i is LockedUpstream => 'product' in i;

/** How a line of a lock is named to people: `counties@<version>`, `ward_population/wards@<version>`. */
export const lockedName = (i: LockedInput): string =>
  isLockedUpstream(i) ? `${i.product}/${i.output}@${i.version}` : `${i.dataset}@${i.version}`;

/** The manifest's record of a published file. */
export const PublishedFile = z.object({
  name: z.string(),
  table: z.string(),
  format: z.enum(OUTPUT_FORMATS),
  key: z.string(),
  size: z.number(),
  sha256: z.string(),
  rows: z.number(),
  /**
   * SRID of the geometry in this file: the table's for CSV, GeoPackage and Shapefile; 4326 for GeoJSON
   * (RFC 7946), FlatGeobuf and GeoParquet (OGC:CRS84).
   */
  srid: z.number().nullable(),
  /** Shapefile only: each column's field name in the .dbf (at most 10 characters), also in the zip's fields.csv. */
  fields: z.array(z.object({ column: z.string(), field: z.string() })).optional(),
});
export type PublishedFile = z.infer<typeof PublishedFile>;

/** A check's result as the manifest records it: the shape of `CheckResult` (errors.ts), which sits below. */
export const CheckRecord = z.object({
  name: z.string(),
  type: z.string(),
  table: z.string(),
  severity: z.enum(['error', 'warn']),
  passed: z.boolean(),
  /** Offending rows (or the row count for a row_count check). */
  count: z.number(),
  message: z.string(),
  sample: z.array(z.record(z.string(), z.unknown())),
}) satisfies z.ZodType<CheckResult>;

/** The QA report beside the manifest (`qa.html`, `qa.json`): where it is, and its figures in short. */
export const QaSummary = z.object({
  /** Beside the manifest (egress) for a version; the archive holds a failed build's report. */
  bucket: z.enum(['egress', 'archive']),
  html: z.string(),
  json: z.string(),
  previous: z.string().nullable(),
  checks: z.object({ passed: z.number(), warned: z.number(), failed: z.number() }),
  outputs: z.array(
    z.object({
      name: z.string(),
      rows: z.number(),
      previousRows: z.number().nullable(),
      added: z.number().nullable(),
      removed: z.number().nullable(),
      changed: z.number().nullable(),
    }),
  ),
});
export type QaSummary = z.infer<typeof QaSummary>;

/** `products/<name>/<version>/manifest.json`: what was built, from what, and how it was checked. */
export const Manifest = z.object({
  product: z.string(),
  title: z.string().optional(),
  version: z.string(),
  runId: z.string(),
  builtAt: z.string(),
  platform: z.object({ name: z.literal('strata'), version: z.string(), engine: z.string() }),
  inputs: z.array(LockedInput),
  steps: z.array(z.object({ file: z.string(), ms: z.number() })),
  checks: z.array(CheckRecord),
  outputs: z.array(PublishedFile),
  /** Versions published before QA reports have none. */
  qa: QaSummary.optional(),
  timings: z.record(z.string(), z.number()),
});
export type Manifest = z.infer<typeof Manifest>;

/**
 * A published version's FlatGeobuf outputs: what the partner API serves as collections (paged by range reads
 * of the file), and so what a publish notification may link.
 */
export const flatgeobufOutputs = (m: Pick<Manifest, 'outputs'>): PublishedFile[] =>
  m.outputs.filter((o) => o.format === 'flatgeobuf');

/** `products/<name>/latest.json`, written only after every object of the version is in place. */
export const LatestPointer = z.object({
  product: z.string(),
  version: z.string(),
  manifest: z.string(),
  publishedAt: z.string(),
});
export type LatestPointer = z.infer<typeof LatestPointer>;

/** The one way a manifest becomes bytes: these bytes are hashed (federation) and served. */
export function manifestJson(manifest: Manifest): string {
  return `${JSON.stringify(Manifest.parse(manifest), null, 2)}\n`;
}

/** A published JSON object read back through its schema; one that does not match names its key and field. */
export function parsePublished<T>(schema: z.ZodType<T>, json: unknown, key: string): T {
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.length ? issue.path.join('.') : '(top level)';
  throw new PublishedObjectError(`egress ${key}: ${field}: ${issue?.message ?? 'does not match'}`);
}

/** A published object (a manifest, the latest pointer) that is not what its key says. */
export class PublishedObjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PublishedObjectError';
  }
}
