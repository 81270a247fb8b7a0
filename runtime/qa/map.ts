import type { Queryable } from '../ports/database.ts';
import { ident } from '../util/sql.ts';
import { STATUS_CODE } from './palette.ts';
import { compareDecimal, type Fingerprint, type Mark } from './rows.ts';
import { trimSample } from './sample.ts';
import type { MapInfo } from './schema.ts';
import { isSpatial, type TableColumn } from './stats.ts';

export interface MapLimits {
  /** Features drawn at most; beyond it, the changed ones and a sample of the rest. */
  readonly features: number;
  /** Above this many vertices in all, each feature is simplified to a fraction of its own size. */
  readonly simplifyAboveVertices: number;
  readonly simplifyFraction: number;
  /** Columns shown for a feature on the map. */
  readonly properties: number;
}

export interface DrawInput {
  /** Qualified table name; the fingerprint's SQL calls it `t`. */
  readonly table: string;
  readonly columns: readonly TableColumn[];
  readonly key: readonly string[] | null;
  readonly fingerprint: Fingerprint;
  readonly marks: readonly Mark[];
  readonly rows: number;
  readonly samples: number;
  readonly geometry?: {
    readonly column: string;
    readonly srid: number | null;
    readonly vertices: number;
    /** Rows with a geometry. */
    readonly features: number;
  };
}

function byKey(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  key: readonly string[] | null,
): number {
  for (const k of key ?? []) {
    const [x, y] = [a[k], b[k]];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

/** A map layer as the page's script reads it: `[status, geometry, properties]` per feature. */
export interface MapLayer {
  readonly json: string;
  readonly info: MapInfo;
}

export interface Drawn {
  readonly samples: { added: Record<string, unknown>[]; changed: Record<string, unknown>[] };
  readonly map: MapLayer | null;
}

/** The SQL that reads a row for the map: its properties as a JSON array, its geometry as GeoJSON. */
interface MapSql {
  readonly table: string;
  /** `json_build_array(...)::text` of the shown columns. */
  readonly properties: string;
  readonly geometry: string;
  /** The geometry in EPSG:4326 as `w.g`, joined laterally. */
  readonly lateral: string;
  /** The row's key hash, as the row list writes it. */
  readonly keyHash: string;
}

/**
 * Reads the rows the report shows: the added and changed ones (for the samples and the highlight) and, for
 * the map, the rest or a repeatable sample of them, as GeoJSON in EPSG:4326 with 5 decimals (about 1 m).
 */
export async function drawRows(db: Queryable, input: DrawInput, limits: MapLimits): Promise<Drawn> {
  const spatial = new Set(input.columns.filter(isSpatial).map((c) => c.name));
  const geom = input.geometry?.srid ? input.geometry : undefined;
  const keyFirst = [
    ...(input.key ?? []),
    ...input.columns.map((c) => c.name).filter((n) => !input.key?.includes(n)),
  ];
  const shown = keyFirst.filter((n) => !spatial.has(n)).slice(0, limits.properties);
  const properties = `json_build_array(${shown
    .map((n) => {
      const c = input.columns.find((x) => x.name === n)!;
      return c.category === 'S' ? `left(t.${ident(n)}::text, 80)` : `t.${ident(n)}`;
    })
    .join(', ')})::text`;
  const drawn = geom ? geometrySql(geom, limits) : { geometry: 'NULL::text', lateral: '', simplified: null };
  const sql: MapSql = {
    table: input.table,
    properties,
    geometry: drawn.geometry,
    lateral: drawn.lateral,
    keyHash: input.fingerprint.key ?? input.fingerprint.row,
  };
  const { samples, features } = await readMarked(db, sql, input, spatial, geom !== undefined);
  // Rows came in the order of their keys' hashes: shown in the order of their keys.
  for (const list of [samples.added, samples.changed]) list.sort((a, b) => byKey(a, b, input.key));
  if (!geom) return { samples, map: null };

  const highlighted = features.length;
  const rest = await readUnmarked(db, sql, input.marks, geom, { highlighted, limit: limits.features });
  for (const f of rest) features.push(f);
  return {
    samples,
    map: {
      json: `{"columns":${JSON.stringify(shown)},"features":[${features.join(',')}]}`,
      info: {
        features: geom.features,
        drawn: features.length,
        highlighted,
        sampled: features.length < geom.features,
        simplified: drawn.simplified,
      },
    },
  };
}

/** The geometry drawn: in EPSG:4326, simplified when the whole layer has too many vertices to stay light. */
function geometrySql(geom: NonNullable<DrawInput['geometry']>, limits: MapLimits) {
  const g = `t.${ident(geom.column)}`;
  const lateral = ` CROSS JOIN LATERAL (SELECT ${geom.srid === 4326 ? g : `ST_Transform(${g}, 4326)`} AS g) w`;
  let drawn = 'w.g';
  let simplified: number | null = null;
  if (geom.vertices > limits.simplifyAboveVertices) {
    simplified = limits.simplifyFraction;
    drawn = `ST_SimplifyPreserveTopology(w.g, greatest(ST_XMax(w.g) - ST_XMin(w.g), ST_YMax(w.g) - ST_YMin(w.g)) * ${simplified})`;
  }
  return { geometry: `ST_AsGeoJSON(${drawn}, 5)`, lateral, simplified };
}

/** The added and changed rows: the first of each as samples, and all of them as highlighted features. */
async function readMarked(
  db: Queryable,
  sql: MapSql,
  input: DrawInput,
  spatial: ReadonlySet<string>,
  mapped: boolean,
): Promise<{ samples: Drawn['samples']; features: string[] }> {
  const { marks } = input;
  const features: string[] = [];
  const samples: Drawn['samples'] = { added: [], changed: [] };
  // Only the first rows of each status are read when there is no map to draw them on.
  const wanted = mapped
    ? marks
    : [
        ...marks.filter((m) => m.status === 'added').slice(0, input.samples),
        ...marks.filter((m) => m.status === 'changed').slice(0, input.samples),
      ];
  if (wanted.length === 0) return { samples, features };
  const statusOf = new Map(wanted.map((m) => [m.key, m.status]));
  // A semi-join on the hashed list of keys: one pass over the table. (Joined and sorted by key instead,
  // PostgreSQL sorted the whole table first: 2 s for a million rows.)
  const rows = await db.query<{ k: string; r: string; p: string; g: string | null }>(
    `SELECT (${sql.keyHash})::text AS k, to_json(t)::text AS r, ${sql.properties} AS p, ${sql.geometry} AS g
     FROM ${sql.table} t${sql.lateral} WHERE ${sql.keyHash} IN (SELECT unnest($1::text[])::bigint)`,
    [wanted.map((m) => m.key)],
  );
  // In the row list's order, so the samples do not depend on the order the scan found the rows in.
  rows.sort((a, b) => compareDecimal(a.k, b.k));
  for (const row of rows) {
    const status = statusOf.get(row.k) ?? 'changed';
    const list = samples[status];
    if (list.length < input.samples) {
      const values = JSON.parse(row.r) as Record<string, unknown>;
      for (const s of spatial) delete values[s];
      list.push(trimSample(values));
    }
    if (row.g) features.push(`[${STATUS_CODE[status]},${row.g},${row.p}]`);
  }
  return { samples, features };
}

/** The other rows with a geometry, or a repeatable sample of them: as many as the map has room for. */
async function readUnmarked(
  db: Queryable,
  sql: MapSql,
  marks: readonly Mark[],
  geom: NonNullable<DrawInput['geometry']>,
  drawn: { highlighted: number; limit: number },
): Promise<string[]> {
  const room = Math.max(0, drawn.limit - drawn.highlighted);
  const others = geom.features - drawn.highlighted;
  if (room <= 0 || others <= 0) return [];
  // A repeatable Bernoulli sample, a little larger than the room left, cut by LIMIT: one pass, no sort.
  const percent = others > room ? Math.min(100, ((room * 1.1) / others) * 100) : 100;
  const sample = percent < 100 ? ` TABLESAMPLE BERNOULLI (${percent.toFixed(6)}) REPEATABLE (42)` : '';
  const notMarked = marks.length > 0 ? ` AND ${sql.keyHash} NOT IN (SELECT unnest($1::text[])::bigint)` : '';
  const rest = await db.query<{ p: string; g: string | null }>(
    `SELECT ${sql.properties} AS p, ${sql.geometry} AS g FROM ${sql.table} t${sample}${sql.lateral}
     WHERE t.${ident(geom.column)} IS NOT NULL${notMarked} LIMIT ${room}`,
    marks.length > 0 ? [marks.map((m) => m.key)] : [],
  );
  return rest.filter((row) => row.g).map((row) => `[${STATUS_CODE.unchanged},${row.g},${row.p}]`);
}
