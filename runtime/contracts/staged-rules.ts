import { MAX_POSITIONS, type Rule } from '../archive/receipt.ts';
import type { Column, Dataset } from '../catalog/schema.ts';
import { GEOJSON_SRID, inLonLatRange, PG_TYPES, sourceName } from '../load/table.ts';
import { literal } from '../util/sql.ts';
import { type CurrentFacts, invalidGeometrySql, invalidReasonSql, isRequired, typeProblem } from './rules.ts';

/**
 * The contract's rules as SQL over a file's rows staged as text (`diagnose`): each rule one condition,
 * counted in one pass, with the first rows that break it and what they hold. Only the SQL is made here;
 * `check-staged.ts` runs it.
 */

export interface DiagnoseOptions {
  /** The current version, for the change limits. */
  readonly current?: CurrentFacts;
  /** Only find the invalid geometries (a file accepted with them, whose receipt says where they are). */
  readonly geometryOnly?: boolean;
  /** The rules an operator may waive (row counts, change, bbox, invalid geometry) are not applied. */
  readonly waive?: boolean;
}

/** One rule as SQL over the staged rows: the rows it counts, what it says of them, and what to show of the first. */
export interface SqlRule {
  readonly rule: Rule;
  readonly column?: string;
  readonly when: string;
  readonly what: string;
  readonly value?: string;
  readonly detail?: string;
}

/** What checking the staged rows runs: the rules, and the two statements that count them and show the first rows. */
export interface StagedPlan {
  readonly rules: readonly SqlRule[];
  /** The rule that counts invalid geometries whatever the policy (a fact for the receipt, not a problem), or -1. */
  readonly invalidAt: number;
  /** The unique column whose value names a row in the receipt, or -1. */
  readonly keyAt: number;
  /**
   * One pass over the rows (all but the positions in `$1`): `rows`, `nn<k>` values in column k, and for
   * rule i `n<i>` rows that break it and `a<i>` the first positions.
   */
  readonly count: string;
  /** For the positions in `$1`: `v<i>` the value and `d<i>` the detail rule i shows, and `key`; none when nothing is shown. */
  readonly details: string | undefined;
}

/** How the staged text is read: each value once, with whether it is of its column's type, and the geometry. */
interface Reading {
  valid(k: number): string;
  typed(k: number): string;
  numeric(k: number): string;
  /** The geometry in the source CRS, or null where it cannot be read; undefined when the rows have none. */
  readonly geometry: string | undefined;
  readonly geometryOk: string;
}

/** `soft`: PostgreSQL 16 reads a value without raising; 15 needs the function of sql/005 (a subtransaction a call). */
function reading(dataset: Dataset, soft: boolean): Reading {
  const cols = dataset.columns;
  const isValid = (value: string, type: string) =>
    soft ? `pg_input_is_valid(${value}, ${type})` : `strata.input_is_valid(${value}, ${type})`;
  const g = dataset.geometry;
  const index = (name: string) => cols.findIndex((c) => c.name === name);
  let geometryOk = 'true';
  let geometry: string | undefined;
  if (g.kind === 'lonlat') {
    const [lon, lat] = [index(g.lon), index(g.lat)];
    geometry = `CASE WHEN ok${lon} AND ok${lat} THEN ST_SetSRID(ST_MakePoint((c${lon})::float8, (c${lat})::float8), ${g.sourceSrid}) END`;
  } else if (g.kind === 'wkt') {
    const w = index(g.column);
    geometryOk = `strata.input_is_valid(c${w}, 'wkt')`;
    geometry = `CASE WHEN gk.g_ok THEN ST_GeomFromText(c${w}, ${g.sourceSrid}) END`;
  } else if (g.kind === 'geojson' && dataset.format !== 'csv') {
    geometry = `_g::geometry`;
  }
  return {
    valid: (k) => {
      const type = cols[k]!.type;
      if (type === 'text') return 'true';
      return soft
        ? `(c${k} IS NULL OR ${isValid(`c${k}`, literal(PG_TYPES[type]))})`
        : isValid(`c${k}`, literal(PG_TYPES[type]));
    },
    typed: (k) => `(c${k})::${PG_TYPES[cols[k]!.type]}`,
    numeric: (k) => isValid(`c${k}`, `'numeric'`),
    geometry,
    geometryOk,
  };
}

/** The rules on one column's values: required, type, min, max, values, unique, and a WGS84 coordinate's range. */
export function columnRules(
  dataset: Dataset,
  c: Column,
  k: number,
  read: Pick<Reading, 'typed' | 'numeric'>,
): SqlRule[] {
  const name = sourceName(c);
  const rules: SqlRule[] = [];
  const value = `c${k}`;
  if (isRequired(dataset, c))
    rules.push({ rule: 'required', column: name, when: `c${k} IS NULL`, what: `with no ${name}` });
  if (c.type === 'integer' || c.type === 'bigint') {
    // "non-numeric" and "not a whole number" are different mistakes in a file: told apart.
    const numeric = read.numeric(k);
    rules.push({
      rule: 'type',
      column: name,
      when: `NOT ok${k} AND NOT ${numeric}`,
      what: typeProblem(c.type, name),
      value,
    });
    rules.push({
      rule: 'type',
      column: name,
      when: `NOT ok${k} AND ${numeric}`,
      what: `with a ${name} that is not a whole number (or is out of range for ${c.type})`,
      value,
    });
  } else if (c.type !== 'text')
    rules.push({ rule: 'type', column: name, when: `NOT ok${k}`, what: typeProblem(c.type, name), value });
  if (c.min !== undefined)
    rules.push({
      rule: 'min',
      column: name,
      when: `ok${k} AND (c${k})::numeric < ${literal(c.min)}`,
      what: `with ${name} below the minimum of ${c.min}`,
      value,
    });
  if (c.max !== undefined)
    rules.push({
      rule: 'max',
      column: name,
      when: `ok${k} AND (c${k})::numeric > ${literal(c.max)}`,
      what: `with ${name} above the maximum of ${c.max}`,
      value,
    });
  if (c.values)
    rules.push({
      rule: 'values',
      column: name,
      when: `ok${k} AND ${read.typed(k)} NOT IN (${c.values.map((v) => literal(typeof v === 'number' ? v : String(v))).join(', ')})`,
      what: `with a ${name} not in ${JSON.stringify(c.values)}`,
      value,
    });
  if (c.unique)
    rules.push({
      rule: 'unique',
      column: name,
      when: `c${k} IS NOT NULL AND ok${k} AND dup${k} > 1`,
      what: `repeating a ${name} seen before (it must be unique)`,
      value,
    });
  const g = dataset.geometry;
  if (g.kind === 'lonlat' && g.sourceSrid === 4326 && (c.name === g.lon || c.name === g.lat)) {
    const [what, bound] = c.name === g.lon ? ['longitude', 180] : ['latitude', 90];
    rules.push({
      rule: 'range',
      column: name,
      when: `ok${k} AND NOT ((c${k})::float8 BETWEEN -${bound} AND ${bound})`,
      what: `with a ${what} (${name}) outside -${bound}..${bound} (are lon and lat swapped, or is the CRS not WGS84?)`,
      value,
    });
  }
  return rules;
}

/** The rules on the geometry `g` as the file holds it: readable, present, its dimensions, type and range. */
function shapeRules(dataset: Dataset): SqlRule[] {
  const g = dataset.geometry;
  const rules: SqlRule[] = [];
  if (g.kind === 'wkt') {
    const w = dataset.columns.findIndex((c) => c.name === g.column);
    rules.push({
      rule: 'geometry',
      column: sourceName(dataset.columns[w]!),
      when: `c${w} IS NOT NULL AND NOT g_ok`,
      what: 'whose geometry is not valid WKT',
      value: `left(c${w}, 80)`,
    });
  }
  if (g.kind === 'geojson' && g.required)
    rules.push({ rule: 'required', column: 'geometry', when: '_g IS NULL', what: 'with no geometry' });
  if (g.kind === 'wkt' || g.kind === 'geojson')
    rules.push(
      g.dimensions === 2
        ? {
            rule: 'dimensions',
            column: 'geometry',
            when: 'g IS NOT NULL AND ST_NDims(g) > 2',
            what: 'with Z values the catalog does not keep (geometry.dimensions: 2)',
          }
        : {
            rule: 'dimensions',
            column: 'geometry',
            when: 'g IS NOT NULL AND ST_NDims(g) < 3',
            what: 'without the Z values the catalog declares (geometry.dimensions: 3)',
          },
    );
  const declared = g.kind === 'wkt' || g.kind === 'geojson' ? g.type : undefined;
  if (declared)
    rules.push({
      rule: 'geometry_type',
      column: 'geometry',
      when: `g IS NOT NULL AND ST_GeometryType(g) <> ${literal(`ST_${declared}`)}`,
      what: `with a geometry that is not a ${declared} (geometry.type)`,
      value: 'GeometryType(g)',
    });
  if (g.kind === 'geojson' && (g.sourceSrid ?? GEOJSON_SRID) === 4326)
    rules.push({
      rule: 'range',
      column: 'geometry',
      when: `g IS NOT NULL AND NOT ${inLonLatRange('g')}`,
      what: 'with coordinates outside longitude -180..180, latitude -90..90 (are x and y swapped, or is the CRS not WGS84?)',
      detail: `format('extent [%s, %s, %s, %s]', ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g))`,
    });
  return rules;
}

/** The rules an operator may waive: the dataset's bbox, and invalid geometry its policy refuses or cannot repair. */
function waivableGeometryRules(dataset: Dataset): SqlRule[] {
  const g = dataset.geometry;
  const rules: SqlRule[] = [];
  if (dataset.bbox) {
    const [x0, y0, x1, y1] = dataset.bbox;
    const gx = g.kind !== 'none' && g.sourceSrid !== 4326 ? 'ST_Transform(g, 4326)' : 'g';
    rules.push({
      rule: 'bbox',
      column: 'geometry',
      when: `g IS NOT NULL AND NOT (ST_XMin(${gx}) >= ${x0} AND ST_YMin(${gx}) >= ${y0} AND ST_XMax(${gx}) <= ${x1} AND ST_YMax(${gx}) <= ${y1})`,
      what: `outside the dataset's bbox [${dataset.bbox.join(', ')}]`,
      detail: `format('extent [%s, %s, %s, %s]', ST_XMin(${gx}), ST_YMin(${gx}), ST_XMax(${gx}), ST_YMax(${gx}))`,
    });
  }
  const invalid = invalidGeometrySql(dataset, 'g');
  if (!invalid) return rules;
  const detail = invalidReasonSql(dataset, 'g');
  const declared = g.kind === 'wkt' || g.kind === 'geojson' ? g.type : undefined;
  if (dataset.invalidGeometry === 'refuse')
    rules.push({
      rule: 'invalid_geometry',
      column: 'geometry',
      when: `g IS NOT NULL AND ${invalid}`,
      what: 'with invalid geometry (invalidGeometry: refuse; repair or keep accept it)',
      detail,
    });
  if (dataset.invalidGeometry === 'repair' && (declared || g.kind === 'lonlat'))
    rules.push({
      rule: 'invalid_geometry',
      column: 'geometry',
      when: `CASE WHEN g IS NOT NULL AND ${invalid} THEN ${g.kind === 'lonlat' ? 'true' : `ST_GeometryType(ST_MakeValid(g, 'method=structure')) <> ${literal(`ST_${declared}`)}`} ELSE false END`,
      what:
        g.kind === 'lonlat'
          ? 'with an invalid point, which no repair can mend'
          : `with invalid geometry that a repair would not keep a ${declared} (geometry.type)`,
      detail,
    });
  return rules;
}

/** Every rule of the contract a staged file is checked against, and where the count of invalid geometries is. */
export function stagedRules(
  dataset: Dataset,
  options: DiagnoseOptions,
  soft: boolean,
): { rules: SqlRule[]; invalidAt: number } {
  const read = reading(dataset, soft);
  const rules = options.geometryOnly
    ? []
    : dataset.columns.flatMap((c, k) => columnRules(dataset, c, k, read));
  if (read.geometry && !options.geometryOnly) {
    rules.push(...shapeRules(dataset));
    if (!options.waive) rules.push(...waivableGeometryRules(dataset));
  }
  // Invalid geometries are counted whatever the policy: the receipt says how many, and where.
  const invalid = read.geometry ? invalidGeometrySql(dataset, 'g') : undefined;
  if (!invalid) return { rules, invalidAt: -1 };
  rules.push({
    rule: 'invalid_geometry',
    column: 'geometry',
    when: `g IS NOT NULL AND ${invalid}`,
    what: '',
    detail: invalidReasonSql(dataset, 'g'),
  });
  return { rules, invalidAt: rules.length - 1 };
}

/** The statements that check the rows staged in `staging` against the contract (see StagedPlan). */
export function planStaged(
  dataset: Dataset,
  options: DiagnoseOptions,
  staging: string,
  soft: boolean,
): StagedPlan {
  const cols = dataset.columns;
  const read = reading(dataset, soft);
  const { rules, invalidAt } = stagedRules(dataset, options, soft);
  const oks = cols.map((_, k) => `${read.valid(k)} AS ok${k}`).join(', ');
  const geometry = read.geometry;
  // Each value is read once: OFFSET 0 keeps the planner from copying the expressions into every rule.
  const staged = (where: string) => `
    SELECT st.*, v.*, gk.g_ok${geometry ? ', gg.g' : ''}
    FROM ${staging} st
    CROSS JOIN LATERAL (SELECT ${oks || 'true AS ok_none'} OFFSET 0) v
    CROSS JOIN LATERAL (SELECT ${read.geometryOk} AS g_ok OFFSET 0) gk
    ${geometry ? `CROSS JOIN LATERAL (SELECT ${geometry} AS g OFFSET 0) gg` : ''}
    WHERE ${where}`;
  const unique = options.geometryOnly ? [] : cols.flatMap((c, k) => (c.unique ? [k] : []));
  const windows = unique
    .map(
      (k) =>
        `row_number() OVER (PARTITION BY CASE WHEN ok${k} THEN ${read.typed(k)} END ORDER BY _pos) AS dup${k}`,
    )
    .join(', ');
  const aggregates = [
    'count(*)::int AS rows',
    ...cols.map((_, k) => `count(c${k})::int AS nn${k}`),
    ...rules.flatMap((r, i) => [
      `count(*) FILTER (WHERE ${r.when})::int AS n${i}`,
      `(array_agg(_pos::int ORDER BY _pos) FILTER (WHERE ${r.when}))[1:${MAX_POSITIONS}] AS a${i}`,
    ]),
  ];
  // The value of the first unique column names a row in the sender's own tools better than its number.
  const keyAt = cols.findIndex((c) => c.unique);
  const shown = rules.flatMap((r, i) => [
    ...(r.value ? [`(${r.value})::text AS v${i}`] : []),
    ...(r.detail ? [`CASE WHEN ${r.when} THEN (${r.detail})::text END AS d${i}`] : []),
  ]);
  if (keyAt >= 0) shown.push(`c${keyAt} AS key`);
  return {
    rules,
    invalidAt,
    keyAt,
    count: `WITH s AS MATERIALIZED (${staged('NOT (_pos = ANY($1::bigint[]))')}),
       t AS (SELECT s.*${windows ? `, ${windows}` : ''} FROM s)
       SELECT ${aggregates.join(', ')} FROM t`,
    details:
      shown.length > 0
        ? `SELECT _pos::int AS pos, ${shown.join(', ')} FROM (${staged('_pos = ANY($1::bigint[])')}) s`
        : undefined,
  };
}
