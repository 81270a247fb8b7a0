import { GEOMETRY_TYPES } from '../catalog/schema.ts';
import type { Queryable } from '../ports/database.ts';
import { ident, qualified } from '../util/sql.ts';
import type { ColumnStats, GeometryStats, TableStats } from './schema.ts';

export interface TableColumn {
  readonly name: string;
  /** As PostgreSQL prints it: `integer`, `geometry(MultiPolygon,4326)`. */
  readonly type: string;
  /** `pg_type.typname`: `int4`, `text`, `geometry`. */
  readonly base: string;
  /** `pg_type.typcategory`: N numeric, S string, D date/time, B boolean, ... */
  readonly category: string;
  /** The type has a default hash operator class with an extended (64-bit, seeded) hash function. */
  readonly hashable: boolean;
  /** The type has a default btree operator class, so `count(DISTINCT ...)` can sort it. */
  readonly sortable: boolean;
}

export async function tableColumns(db: Queryable, schema: string, table: string): Promise<TableColumn[]> {
  return db.query<TableColumn>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typname::text AS base,
       t.typcategory::text AS category,
       EXISTS (SELECT 1 FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod
               JOIN pg_amproc ap ON ap.amprocfamily = oc.opcfamily AND ap.amproclefttype = oc.opcintype
                 AND ap.amprocnum = 2
               WHERE am.amname = 'hash' AND oc.opcdefault AND oc.opcintype = a.atttypid) AS hashable,
       EXISTS (SELECT 1 FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod
               WHERE am.amname = 'btree' AND oc.opcdefault AND oc.opcintype = a.atttypid) AS sortable
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid
     WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [schema, table],
  );
}

export const isSpatial = (c: TableColumn) => c.base === 'geometry' || c.base === 'geography';

/** Geometry types by the name `GeometryType()` gives them, with the name the report shows. */
const TYPE_LABELS = new Map(GEOMETRY_TYPES.map((t) => [t.toUpperCase(), t]));

export interface StatsOptions {
  /** The column drawn and measured as the output's geometry. */
  readonly geometry?: string;
  /** Invalid geometries already counted by a `geometry_valid` check of this table and column. */
  readonly invalid?: number;
  /** Above this many rows, distinct counts are PostgreSQL's estimates from ANALYZE's sample. */
  readonly exactDistinctMaxRows: number;
}

interface SpatialRef {
  readonly srid: number | null;
  /** Measured on the ellipsoid (a geographic SRID), in the SRID's linear unit, or unknown (srid 0). */
  readonly kind: 'geographic' | 'metric' | 'other';
}

async function spatialRef(db: Queryable, table: string, g: string): Promise<SpatialRef> {
  const [row] = await db.query<{ srid: number; proj: string | null }>(
    `SELECT s.srid, r.proj4text AS proj FROM (SELECT ST_SRID(${g}) AS srid FROM ${table} WHERE ${g} IS NOT NULL LIMIT 1) s
     LEFT JOIN spatial_ref_sys r ON r.srid = s.srid`,
  );
  if (!row) return { srid: null, kind: 'other' };
  const proj = row.proj ?? '';
  if (/\+proj=longlat\b/.test(proj)) return { srid: row.srid, kind: 'geographic' };
  if (/\+units=m\b/.test(proj)) return { srid: row.srid, kind: 'metric' };
  return { srid: row.srid || null, kind: 'other' };
}

/** `count(DISTINCT ...)` of a column: strings by their bytes, types with no ordering as text. */
function distinctOf(c: TableColumn): string {
  const col = ident(c.name);
  // Equality under a deterministic collation is byte equality, and sorting bytes is several times faster
  // than sorting by a locale.
  return `count(DISTINCT ${c.category === 'S' || !c.sortable ? `${col}::text COLLATE "C"` : col})::float8`;
}

/**
 * The figures of one table, computed in the database: one pass for rows, nulls, min and max and the
 * geometry's types, emptiness, validity, vertices and extent; then the distinct values (counted for a table of
 * up to `exactDistinctMaxRows` rows, PostgreSQL's estimates from ANALYZE's sample above that), and total
 * area and length where there are polygons or lines to measure.
 */
export async function tableStats(
  db: Queryable,
  schema: string,
  tableName: string,
  columns: readonly TableColumn[],
  options: StatsOptions,
): Promise<TableStats> {
  const table = qualified(schema, tableName);
  const geomColumn = columns.find((c) => c.name === options.geometry && c.base === 'geometry');
  const g = geomColumn ? ident(geomColumn.name) : '';
  const ref = geomColumn ? await spatialRef(db, table, g) : undefined;
  const fields = firstPass(columns, geomColumn ? g : undefined, options);
  const [r] = await db.query<Record<string, unknown>>(`SELECT ${fields.join(', ')} FROM ${table}`);
  const row = r ?? {};
  const rows = Number(row.rows ?? 0);

  const counted = columns.filter((c) => !isSpatial(c));
  const exact = rows <= options.exactDistinctMaxRows;
  let distinct = new Map<string, number>();
  if (counted.length > 0 && exact) {
    const [d] = await db.query<Record<string, number>>(
      `SELECT ${counted.map((c, i) => `${distinctOf(c)} AS d${i}`).join(', ')} FROM ${table}`,
    );
    distinct = new Map(counted.map((c, i) => [c.name, Number(d?.[`d${i}`] ?? 0)]));
  } else if (counted.length > 0) {
    // The geometry is left out: PostGIS's own statistics of it take longer than the rest together.
    await db.exec(`ANALYZE ${table} (${counted.map((c) => ident(c.name)).join(', ')})`);
    distinct = await distinctEstimates(db, schema, tableName, rows);
  }
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  const stats: ColumnStats[] = columns.map((c, i) => ({
    name: c.name,
    type: c.type,
    nulls: rows - Number(row[`n${i}`] ?? 0),
    distinct: isSpatial(c) ? null : (distinct.get(c.name) ?? null),
    distinctEstimated: !exact && !isSpatial(c),
    min: text(row[`lo${i}`]),
    max: text(row[`hi${i}`]),
  }));
  const geometry =
    geomColumn && ref
      ? await geometryStats(db, { table, column: geomColumn.name, g, ref }, row, options)
      : null;
  return { rows, columns: stats, geometry };
}

/**
 * The one pass over the table: rows, and each column's non-null count, min and max; for the geometry (`g`,
 * quoted), its emptiness, vertices, extent and, unless a check counted it already, validity.
 */
function firstPass(columns: readonly TableColumn[], g: string | undefined, options: StatsOptions): string[] {
  const fields = ['count(*)::float8 AS rows'];
  columns.forEach((c, i) => {
    const col = ident(c.name);
    fields.push(`count(${col})::float8 AS n${i}`);
    // Strings by their bytes, as for distinct values: the same on every engine whatever its locale.
    if (c.category === 'S')
      fields.push(`min(${col} COLLATE "C")::text AS lo${i}`, `max(${col} COLLATE "C")::text AS hi${i}`);
    else if (['N', 'D'].includes(c.category))
      fields.push(`min(${col})::text AS lo${i}`, `max(${col})::text AS hi${i}`);
    else if (c.category === 'B')
      fields.push(`bool_and(${col})::text AS lo${i}`, `bool_or(${col})::text AS hi${i}`);
  });
  if (g) {
    fields.push(
      `count(*) FILTER (WHERE ST_IsEmpty(${g}))::float8 AS g_empty`,
      `coalesce(sum(ST_NPoints(${g})), 0)::float8 AS g_vertices`,
      `ST_XMin(ST_Extent(${g})) AS g_x1, ST_YMin(ST_Extent(${g})) AS g_y1`,
      `ST_XMax(ST_Extent(${g})) AS g_x2, ST_YMax(ST_Extent(${g})) AS g_y2`,
    );
    if (options.invalid === undefined)
      fields.push(`count(*) FILTER (WHERE NOT ST_IsValid(${g}))::float8 AS g_invalid`);
  }
  return fields;
}

/** The geometry's figures: from the first pass, with its types, its bbox in EPSG:4326, and its measures. */
async function geometryStats(
  db: Queryable,
  geom: { table: string; column: string; g: string; ref: SpatialRef },
  row: Record<string, unknown>,
  options: StatsOptions,
): Promise<GeometryStats> {
  const { table, g, ref } = geom;
  const types: Record<string, number> = {};
  const byType = await db.query<{ type: string; n: number }>(
    `SELECT GeometryType(${g}) AS type, count(*)::float8 AS n FROM ${table} WHERE ${g} IS NOT NULL GROUP BY 1 ORDER BY 1`,
  );
  for (const t of byType) types[TYPE_LABELS.get(t.type) ?? t.type] = Number(t.n);
  const box = [row.g_x1, row.g_y1, row.g_x2, row.g_y2].map((v) => (v === null ? null : Number(v)));
  return {
    column: geom.column,
    srid: ref.srid,
    types,
    empty: Number(row.g_empty ?? 0),
    invalid: options.invalid ?? Number(row.g_invalid ?? 0),
    vertices: Number(row.g_vertices ?? 0),
    bbox: box.some((v) => v === null) ? null : await toWgs84(db, box as number[], ref),
    ...(await measure(db, table, g, ref, types)),
    units: ref.kind === 'other' ? 'srid' : 'metre',
  };
}

/**
 * Total area of the polygons and length of the lines, on the ellipsoid for a geographic SRID: a pass of its
 * own, made only when there is something to measure (geodesic measures are the costliest figures of all).
 */
async function measure(
  db: Queryable,
  table: string,
  g: string,
  ref: SpatialRef,
  types: Record<string, number>,
): Promise<{ area: number; length: number }> {
  // Types beyond the seven (curves, TINs, measured ones like POINTM) may have area or length too.
  const other = Object.keys(types).some((t) => !TYPE_LABELS.has(t.toUpperCase()));
  const has = (...names: string[]) => other || names.some((n) => (types[n] ?? 0) > 0);
  const areas = has('Polygon', 'MultiPolygon', 'GeometryCollection');
  const lines = has('LineString', 'MultiLineString', 'GeometryCollection');
  if (!areas && !lines) return { area: 0, length: 0 };
  const m =
    ref.kind === 'geographic'
      ? ref.srid === 4326
        ? `${g}::geography`
        : `ST_Transform(${g}, 4326)::geography`
      : g;
  // CASE, not FILTER: an aggregate's arguments are computed for every row, whatever its FILTER says.
  const [r] = await db.query<{ area: number | null; length: number | null }>(
    `SELECT sum(CASE WHEN ST_Dimension(${g}) = 2 THEN ST_Area(${m}) END)::float8 AS area,
       sum(CASE WHEN ST_Dimension(${g}) = 1 THEN ST_Length(${m}) END)::float8 AS length
     FROM ${table} WHERE ST_Dimension(${g}) > 0`,
  );
  return { area: Number(r?.area ?? 0), length: Number(r?.length ?? 0) };
}

/** The bbox in EPSG:4326, transformed as a whole, so no row is transformed for it. */
async function toWgs84(
  db: Queryable,
  box: number[],
  ref: SpatialRef,
): Promise<[number, number, number, number]> {
  const [x1, y1, x2, y2] = box as [number, number, number, number];
  if (!ref.srid || ref.srid === 4326 || ref.kind === 'other') return [x1, y1, x2, y2];
  const [t] = await db.query<{ x1: number; y1: number; x2: number; y2: number }>(
    `SELECT ST_XMin(b) AS x1, ST_YMin(b) AS y1, ST_XMax(b) AS x2, ST_YMax(b) AS y2
     FROM (SELECT ST_Transform(ST_MakeEnvelope($1, $2, $3, $4, $5), 4326) AS b) s`,
    [x1, y1, x2, y2, ref.srid],
  );
  return [Number(t!.x1), Number(t!.y1), Number(t!.x2), Number(t!.y2)];
}

async function distinctEstimates(
  db: Queryable,
  schema: string,
  table: string,
  rows: number,
): Promise<Map<string, number>> {
  const stats = await db.query<{ name: string; n: number }>(
    'SELECT attname::text AS name, n_distinct::float8 AS n FROM pg_stats WHERE schemaname = $1 AND tablename = $2',
    [schema, table],
  );
  // A negative n_distinct is a fraction of the rows: PostgreSQL's way of saying "grows with the table".
  return new Map(stats.map((s) => [s.name, Math.round(s.n < 0 ? -s.n * rows : s.n)]));
}
