import { z } from 'zod';

/**
 * What a sender gets back for a file: the dataset version it became (rows, columns, CRS, bbox, change from
 * the current version), or every problem that refused it, counted per kind. An ingest run carries it at
 * `run.result.receipt` (accepted) or `run.error.receipt` (quarantined or refused); a quarantined file has
 * it beside it in the archive too, as `quarantine/<dataset>/<id>/receipt.json`.
 */

/**
 * Where in the file: a CSV line (1-based, the record's first line) or a feature index (0-based, in the order
 * GeoJSON or GDAL reads the features), with the layer of a format read through GDAL, and the value of the
 * dataset's first unique column, by which a sender finds the row in their own tools.
 */
export const Position = z.object({
  line: z.number().int().positive().optional(),
  feature: z.number().int().nonnegative().optional(),
  layer: z.string().optional(),
  key: z.object({ column: z.string(), value: z.string() }).optional(),
  /** The offending value, as read (cut to 80 characters). */
  value: z.string().optional(),
  /** Why, where the rule has more to say: PostGIS's reason for an invalid geometry, say. */
  detail: z.string().optional(),
});
export type Position = z.infer<typeof Position>;

export const RULES = [
  // The file as a whole.
  'file',
  'header',
  'encoding',
  'fields',
  // A column's values.
  'required',
  'type',
  'min',
  'max',
  'values',
  'unique',
  'range',
  // Geometry.
  'geometry',
  'geometry_type',
  'dimensions',
  'invalid_geometry',
  'bbox',
  // Rows, and change against the current version.
  'min_rows',
  'max_rows',
  'fewer_rows',
  'more_rows',
  'column_removed',
] as const;
export const Rule = z.enum(RULES);
export type Rule = z.infer<typeof Rule>;

/** One kind of problem: how many rows (or features) break one rule of one column, and the first few. */
export const Problem = z.object({
  rule: Rule,
  column: z.string().optional(),
  count: z.number().int().nonnegative(),
  /** For people: "312 rows with a non-numeric population, first at lines 5000, 5012, ...". */
  message: z.string(),
  /** The first few, in file order (at most `MAX_POSITIONS`). */
  at: z.array(Position),
});
export type Problem = z.infer<typeof Problem>;

export const MAX_POSITIONS = 10;
/** Kinds listed at most; `truncated` says when there were more. */
export const MAX_PROBLEMS = 100;

export const ReceiptColumn = z.object({
  name: z.string(),
  type: z.string(),
  /** The header or property it is read from, when it differs from `name`. */
  source: z.string().optional(),
});

export const ReceiptGeometry = z.object({
  policy: z.enum(['refuse', 'repair', 'keep']),
  /** Geometries PostGIS found invalid. */
  invalid: z.number().int().nonnegative(),
  repaired: z.number().int().nonnegative(),
  kept: z.number().int().nonnegative(),
  /** The first few invalid ones, with PostGIS's reason. */
  at: z.array(Position),
});
export type ReceiptGeometry = z.infer<typeof ReceiptGeometry>;

export const ReceiptChange = z.object({
  /** The version that was current when the file came. */
  against: z.string(),
  rowsBefore: z.number().int().nonnegative(),
  rowsAfter: z.number().int().nonnegative(),
  /** Percent change in rows; null when the current version had none. */
  rowsPercent: z.number().nullable(),
});
export type ReceiptChange = z.infer<typeof ReceiptChange>;

export const ReceiptCurrent = z.object({
  version: z.string(),
  /** What was current before; null for a dataset's first version. */
  previous: z.string().nullable(),
  /** False when the version was already current: nothing moved. */
  changed: z.boolean(),
  /** The event that recorded the move, in `datasets/<name>/events/`. */
  event: z.string().optional(),
});
export type ReceiptCurrent = z.infer<typeof ReceiptCurrent>;

export const Receipt = z.object({
  receipt: z.literal(1),
  dataset: z.string(),
  /** accepted: a version (and current); quarantined: kept, not a version; refused: not kept (an empty file, say). */
  status: z.enum(['accepted', 'quarantined', 'refused']),
  file: z.object({
    filename: z.string(),
    sha256: z.string(),
    size: z.number().int().nonnegative(),
    receivedAt: z.string(),
  }),
  run: z.string().optional(),
  madeAt: z.string(),
  /**
   * The sha256 of the dataset's definition the file was judged against (`contractHash`): the same bytes sent
   * again after it changes are judged again, rather than found still quarantined.
   */
  contract: z.string().optional(),
  /** The dataset version the file is (accepted), or would be once released (quarantined). */
  version: z.string().optional(),
  current: ReceiptCurrent.optional(),
  quarantine: z.object({ id: z.string(), key: z.string() }).optional(),
  rows: z.number().int().nonnegative().optional(),
  columns: z.array(ReceiptColumn),
  /** The CRS the data is stored in, `EPSG:<srid>`; absent for a dataset with no geometry. */
  crs: z.string().optional(),
  /** Extent of the data in its CRS: [minx, miny, maxx, maxy]; null when there is no geometry. */
  bbox: z.tuple([z.number(), z.number(), z.number(), z.number()]).nullable().optional(),
  geometry: ReceiptGeometry.optional(),
  change: ReceiptChange.optional(),
  problems: z.array(Problem),
  /** True when more kinds of problem were found than are listed. */
  truncated: z.boolean(),
  warnings: z.array(z.string()),
});
export type Receipt = z.infer<typeof Receipt>;

/** `line 5000` / `feature 3`. */
export function where(p: Position): string {
  return p.line !== undefined ? `line ${p.line}` : p.feature !== undefined ? `feature ${p.feature}` : '';
}

/**
 * `layer "parcels", feature 3 (ref "P2")`: where, as a person looks for it. A CSV's line is enough to find
 * a row by; a feature's index is not, in tools that sort or number features their own way.
 */
function whereFully(p: Position): string {
  const key = p.key && p.line === undefined ? ` (${p.key.column} ${JSON.stringify(p.key.value)})` : '';
  return `${p.layer !== undefined ? `layer "${p.layer}", ` : ''}${where(p)}${key}`;
}

/**
 * "first at lines 5000, 5012, ..." for a problem counted `count` times, and the first one's detail where
 * there is one: "at feature 1 (Self-intersection[5 5])".
 */
export function firstAt(at: readonly Position[], count: number, shown = 5): string {
  if (at.length === 0) return '';
  const lines = at[0]!.line !== undefined;
  const list = at
    .slice(0, shown)
    .map((p) => String(lines ? p.line : p.feature))
    .join(', ');
  const noun = lines ? (count === 1 ? 'line' : 'lines') : count === 1 ? 'feature' : 'features';
  const more = count > Math.min(shown, at.length) ? ', ...' : '';
  const detail = at[0]!.detail ? ` (${count === 1 ? '' : `${where(at[0]!)}: `}${at[0]!.detail})` : '';
  return `${count === 1 ? 'at' : 'first at'} ${noun} ${list}${more}${detail}`;
}

/** The receipt as lines for people: what it became, or each problem with an example or two. */
export function receiptLines(r: Receipt): string[] {
  const out: string[] = [];
  const file = `${r.file.filename} (${r.file.size} bytes, sha256 ${r.file.sha256.slice(0, 12)})`;
  if (r.status === 'accepted')
    out.push(
      `receipt: ${file} accepted as ${r.dataset}@${r.version}: ${r.rows} rows${r.crs ? `, ${r.crs}` : ''}${r.bbox ? `, bbox [${r.bbox.map((n) => round(n)).join(', ')}]` : ''}`,
    );
  else if (r.status === 'quarantined')
    out.push(
      `receipt: ${file} quarantined as ${r.quarantine?.id}: ${r.problems.length} kind(s) of problem${r.truncated ? ' (more not listed)' : ''}`,
    );
  else out.push(`receipt: ${file} refused`);
  if (r.current)
    out.push(
      r.current.changed
        ? `  current: ${r.current.version}${r.current.previous ? ` (was ${r.current.previous})` : ''}`
        : `  current: ${r.current.version} (unchanged)`,
    );
  if (r.change)
    out.push(
      `  change: ${r.change.rowsBefore} → ${r.change.rowsAfter} rows${r.change.rowsPercent === null ? '' : ` (${r.change.rowsPercent > 0 ? '+' : ''}${Math.round(r.change.rowsPercent * 10) / 10}%)`} against ${r.change.against}`,
    );
  if (r.geometry && r.geometry.invalid > 0)
    out.push(
      `  geometry: ${r.geometry.invalid} invalid, ${r.geometry.repaired} repaired, ${r.geometry.kept} kept (invalidGeometry: ${r.geometry.policy})`,
    );
  for (const p of r.problems) {
    out.push(`  - ${p.message}`);
    for (const a of p.at.slice(0, 2).filter((x) => x.value !== undefined || x.detail !== undefined))
      out.push(
        `      ${whereFully(a)}: ${[a.value !== undefined ? JSON.stringify(a.value) : '', a.detail ?? ''].filter(Boolean).join(' ')}`,
      );
  }
  for (const w of r.warnings) out.push(`  warning: ${w}`);
  return out;
}

const round = (n: number) => Math.round(n * 1e4) / 1e4;
