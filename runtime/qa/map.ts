import type { Queryable } from '../ports/database.ts';
import { trimSample } from '../products/checks.ts';
import { ident } from '../util/sql.ts';
import { STATUS_CODE } from './palette.ts';
import { compareDecimal, type Fingerprint, type Mark } from './rows.ts';
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

/**
 * Reads the rows the report shows: the added and changed ones (for the samples and the highlight) and, for
 * the map, the rest or a repeatable sample of them, as GeoJSON in EPSG:4326 with 5 decimals (about 1 m).
 */
export async function drawRows(db: Queryable, input: DrawInput, limits: MapLimits): Promise<Drawn> {
  const { table, fingerprint: f, marks } = input;
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
  let geometry = `NULL::text`;
  let lateral = '';
  let simplified: number | null = null;
  if (geom) {
    const g = `t.${ident(geom.column)}`;
    lateral = ` CROSS JOIN LATERAL (SELECT ${geom.srid === 4326 ? g : `ST_Transform(${g}, 4326)`} AS g) w`;
    let drawn = 'w.g';
    if (geom.vertices > limits.simplifyAboveVertices) {
      simplified = limits.simplifyFraction;
      drawn = `ST_SimplifyPreserveTopology(w.g, greatest(ST_XMax(w.g) - ST_XMin(w.g), ST_YMax(w.g) - ST_YMin(w.g)) * ${simplified})`;
    }
    geometry = `ST_AsGeoJSON(${drawn}, 5)`;
  }
  const keyHash = f.key ?? f.row;
  const features: string[] = [];
  const samples: Drawn['samples'] = { added: [], changed: [] };

  // Only the first rows of each status are read when there is no map to draw them on.
  const wanted = geom
    ? marks
    : [
        ...marks.filter((m) => m.status === 'added').slice(0, input.samples),
        ...marks.filter((m) => m.status === 'changed').slice(0, input.samples),
      ];
  if (wanted.length > 0) {
    const statusOf = new Map(wanted.map((m) => [m.key, m.status]));
    // A semi-join on the hashed list of keys: one pass over the table. (Joined and sorted by key instead,
    // PostgreSQL sorted the whole table first: 2 s for a million rows.)
    const rows = await db.query<{ k: string; r: string; p: string; g: string | null }>(
      `SELECT (${keyHash})::text AS k, to_json(t)::text AS r, ${properties} AS p, ${geometry} AS g
       FROM ${table} t${lateral} WHERE ${keyHash} IN (SELECT unnest($1::text[])::bigint)`,
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
  }
  // Rows came in the order of their keys' hashes: shown in the order of their keys.
  for (const list of [samples.added, samples.changed]) list.sort((a, b) => byKey(a, b, input.key));
  if (!geom) return { samples, map: null };

  const highlighted = features.length;
  const nonNull = `t.${ident(geom.column)} IS NOT NULL`;
  const total = geom.features;
  const room = Math.max(0, limits.features - highlighted);
  const others = total - highlighted;
  // A repeatable Bernoulli sample, a little larger than the room left, cut by LIMIT: one pass, no sort.
  const percent = others > room ? Math.min(100, ((room * 1.1) / others) * 100) : 100;
  const sample = percent < 100 ? ` TABLESAMPLE BERNOULLI (${percent.toFixed(6)}) REPEATABLE (42)` : '';
  const notMarked = marks.length > 0 ? ` AND ${keyHash} NOT IN (SELECT unnest($1::text[])::bigint)` : '';
  if (room > 0 && others > 0) {
    const rest = await db.query<{ p: string; g: string | null }>(
      `SELECT ${properties} AS p, ${geometry} AS g FROM ${table} t${sample}${lateral}
       WHERE ${nonNull}${notMarked} LIMIT ${room}`,
      marks.length > 0 ? [marks.map((m) => m.key)] : [],
    );
    for (const row of rest) if (row.g) features.push(`[${STATUS_CODE.unchanged},${row.g},${row.p}]`);
  }
  return {
    samples,
    map: {
      json: `{"columns":${JSON.stringify(shown)},"features":[${features.join(',')}]}`,
      info: {
        features: total,
        drawn: features.length,
        highlighted,
        sampled: features.length < total,
        simplified,
      },
    },
  };
}
