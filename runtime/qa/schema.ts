import { z } from 'zod';
import { failedQaKeys, qaKeys } from '../layout/buckets.ts';
import { CheckRecord, QaSummary } from '../publish/manifest.ts';

/**
 * How rows are fingerprinted (PostgreSQL's `hash_record_extended` over the columns sorted by name). A previous
 * version's row list is compared only when it was made the same way.
 */
export const ROW_HASH_METHOD = 'hash_record_extended/1';

const Bbox = z.tuple([z.number(), z.number(), z.number(), z.number()]);
const Row = z.record(z.string(), z.unknown());

export const ColumnStats = z.object({
  name: z.string(),
  type: z.string(),
  nulls: z.number(),
  /** null where not counted (geometry); an estimate from ANALYZE's sample when `distinctEstimated`. */
  distinct: z.number().nullable(),
  distinctEstimated: z.boolean(),
  min: z.string().nullable(),
  max: z.string().nullable(),
});
export type ColumnStats = z.infer<typeof ColumnStats>;

export const GeometryStats = z.object({
  column: z.string(),
  srid: z.number().nullable(),
  /** Rows by geometry type (`Point`, `MultiPolygon`, ...); rows with no geometry are not counted. */
  types: z.record(z.string(), z.number()),
  empty: z.number(),
  invalid: z.number(),
  vertices: z.number(),
  /** [minx, miny, maxx, maxy] in EPSG:4326 (in the SRID's own units where it cannot be transformed). */
  bbox: Bbox.nullable(),
  /** Total area and length: geodesic square metres and metres, or in the SRID's units (`units: srid`). */
  area: z.number(),
  length: z.number(),
  units: z.enum(['metre', 'srid']),
});
export type GeometryStats = z.infer<typeof GeometryStats>;

export const TableStats = z.object({
  rows: z.number(),
  columns: z.array(ColumnStats),
  geometry: GeometryStats.nullable(),
});
export type TableStats = z.infer<typeof TableStats>;

export const RowChanges = z.object({
  /** `key`: rows matched by the output's key; `row`: no key, so rows are compared whole. */
  basis: z.enum(['key', 'row']),
  added: z.number(),
  removed: z.number(),
  /** null where it cannot be told: no key, or the columns themselves changed. */
  changed: z.number().nullable(),
  unchanged: z.number().nullable(),
  /** Rows in both versions: by key, or (with no key) identical rows. */
  matched: z.number(),
  /** Keys held by more than one row, in either version: their rows are paired in hash order. */
  duplicateKeys: z.number(),
  samples: z.object({
    added: z.array(Row),
    changed: z.array(Row),
    /** The keys of removed rows (their values are in the previous version's files). */
    removed: z.array(z.unknown()),
  }),
});
export type RowChanges = z.infer<typeof RowChanges>;

/** Where a version keeps the fingerprints of its rows, for the next version to compare with. */
export const RowList = z.object({
  key: z.string(),
  method: z.string(),
  keyColumns: z.array(z.string()).nullable(),
  /** `integer`: the key written as itself; `hash`: its hash, and the key as JSON. */
  keyEncoding: z.enum(['integer', 'hash']).nullable(),
  /** `name type` of every column hashed, sorted by name. */
  columns: z.array(z.string()),
});
export type RowList = z.infer<typeof RowList>;

export const MapInfo = z.object({
  features: z.number(),
  drawn: z.number(),
  highlighted: z.number(),
  sampled: z.boolean(),
  /** Douglas-Peucker tolerance in degrees, when the layer was simplified to stay light. */
  simplified: z.number().nullable(),
});
export type MapInfo = z.infer<typeof MapInfo>;

export const OutputQa = z.object({
  name: z.string(),
  table: z.string(),
  key: z.array(z.string()).nullable(),
  current: TableStats,
  /** The previous version's figures, from its own qa.json. */
  previous: TableStats.nullable(),
  changes: RowChanges.nullable(),
  /** Why rows could not be compared, or what to know when reading the comparison. */
  notes: z.array(z.string()),
  rowList: RowList.nullable(),
  map: MapInfo.nullable(),
  /** Where the report's time went for this output: figures, row list and comparison, map and samples. */
  ms: z.object({ stats: z.number(), rows: z.number(), map: z.number() }),
});
export type OutputQa = z.infer<typeof OutputQa>;

export const HistoryEntry = z.object({
  /** A version id, or the run id of a build that was not published. */
  label: z.string(),
  builtAt: z.string(),
  published: z.boolean(),
  rows: z.record(z.string(), z.number()),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/** What the build read: a dataset version, or an output of another product's version with its QA report. */
export const QaInput = z.object({
  alias: z.string(),
  kind: z.enum(['dataset', 'product']),
  name: z.string(),
  output: z.string().optional(),
  version: z.string(),
  /** An upstream product version's QA report, relative to this report (both in the egress bucket). */
  qa: z.string().optional(),
});
export type QaInput = z.infer<typeof QaInput>;

/** `qa.json`: the QA report's figures, for machines; `qa.html` shows the same to people. */
export const QaReport = z.object({
  format: z.literal('strata.qa/1'),
  product: z.string(),
  title: z.string().optional(),
  status: z.enum(['published', 'checks-failed']),
  /** null for a build that failed its checks: it has no version. */
  version: z.string().nullable(),
  runId: z.string(),
  builtAt: z.string(),
  engine: z.string(),
  previous: z.object({ version: z.string(), builtAt: z.string() }).nullable(),
  /** Reports written before products could read products have none. */
  inputs: z.array(QaInput).optional(),
  checks: z.array(CheckRecord),
  outputs: z.array(OutputQa),
  /** Row counts of the last versions, oldest first, this build last. */
  history: z.array(HistoryEntry),
  ms: z.number(),
});
export type QaReport = z.infer<typeof QaReport>;

/**
 * Where a report is: beside the manifest for a version, in the archive under `runs/` for a failed build. The
 * manifest records it with the report's figures in short (its `qa`, a QaSummary).
 */
export const QaLocation = QaSummary.pick({ bucket: true, html: true, json: true });
export type QaLocation = z.infer<typeof QaLocation>;

export function publishedQaLocation(product: string, version: string): QaLocation {
  return { bucket: 'egress', ...qaKeys(product, version) };
}

/**
 * A build that failed its checks publishes nothing, so its report goes to the archive bucket (internal,
 * kept for good, never served to partners) under the run's id.
 */
export function failedQaLocation(runId: string): QaLocation {
  return { bucket: 'archive', ...failedQaKeys(runId) };
}
