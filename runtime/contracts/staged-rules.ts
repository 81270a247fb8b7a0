import { MAX_POSITIONS, type Position, type Problem, type Rule } from '../archive/receipt.ts';
import type { Dataset } from '../catalog/schema.ts';
import { GEOJSON_SRID, inLonLatRange, PG_TYPES, sourceName } from '../load/table.ts';
import type { Database } from '../ports/database.ts';
import { literal } from '../util/sql.ts';
import type { DiagnoseOptions, Diagnosis } from './diagnose.ts';
import { invalidGeometrySql, invalidReasonSql, isRequired, nounOf, problem, typeProblem } from './rules.ts';

/**
 * The contract's rules as SQL over a file's rows staged as text (`diagnose`): each rule one condition,
 * counted in one pass, with the first rows that break it and what they hold.
 */

export const cut = (s: string) => (s.length > 80 ? `${s.slice(0, 77)}...` : s);

/** One rule as SQL over the staged rows: the rows it counts, what it says of them, and what to show of the first. */
interface SqlRule {
  readonly rule: Rule;
  readonly column?: string;
  readonly when: string;
  readonly what: string;
  readonly value?: string;
  readonly detail?: string;
}

export async function checkStaged(
  db: Database,
  staging: string,
  dataset: Dataset,
  skipped: readonly number[],
  options: DiagnoseOptions,
  layer?: string,
): Promise<{ problems: Problem[]; geometry: Diagnosis['geometry']; nonNull: Record<string, number> }> {
  const [server] = await db.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
  // PostgreSQL 16 reads a value without raising; 15 needs the function of sql/005 (a subtransaction a call).
  const soft = (server?.v ?? 0) >= 160000;
  const cols = dataset.columns;
  const valid = (k: number) => {
    const type = cols[k]!.type;
    if (type === 'text') return 'true';
    const pg = literal(PG_TYPES[type]);
    return soft
      ? `(c${k} IS NULL OR pg_input_is_valid(c${k}, ${pg}))`
      : `strata.input_is_valid(c${k}, ${pg})`;
  };
  const typed = (k: number) => `(c${k})::${PG_TYPES[cols[k]!.type]}`;
  const g = dataset.geometry;
  const index = (name: string) => cols.findIndex((c) => c.name === name);

  // The geometry, read as the load reads it (in the source CRS), or null where it cannot be.
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
  const oks = cols.map((_, k) => `${valid(k)} AS ok${k}`).join(', ');
  // Each value is read once: OFFSET 0 keeps the planner from copying the expressions into every rule.
  const staged = (where: string) => `
    SELECT st.*, v.*, gk.g_ok${geometry ? ', gg.g' : ''}
    FROM ${staging} st
    CROSS JOIN LATERAL (SELECT ${oks || 'true AS ok_none'} OFFSET 0) v
    CROSS JOIN LATERAL (SELECT ${geometryOk} AS g_ok OFFSET 0) gk
    ${geometry ? `CROSS JOIN LATERAL (SELECT ${geometry} AS g OFFSET 0) gg` : ''}
    WHERE ${where}`;

  const invalid = geometry ? invalidGeometrySql(dataset, 'g') : undefined;
  const reason = invalidReasonSql(dataset, 'g');
  const rules: SqlRule[] = [];
  const facts: { invalid?: number } = {};
  if (!options.geometryOnly)
    cols.forEach((c, k) => {
      const name = sourceName(c);
      if (isRequired(dataset, c))
        rules.push({ rule: 'required', column: name, when: `c${k} IS NULL`, what: `with no ${name}` });
      if (c.type === 'integer' || c.type === 'bigint') {
        // "non-numeric" and "not a whole number" are different mistakes in a file: told apart.
        const numeric = soft
          ? `pg_input_is_valid(c${k}, 'numeric')`
          : `strata.input_is_valid(c${k}, 'numeric')`;
        rules.push({
          rule: 'type',
          column: name,
          when: `NOT ok${k} AND NOT ${numeric}`,
          what: typeProblem(c.type, name),
          value: `c${k}`,
        });
        rules.push({
          rule: 'type',
          column: name,
          when: `NOT ok${k} AND ${numeric}`,
          what: `with a ${name} that is not a whole number (or is out of range for ${c.type})`,
          value: `c${k}`,
        });
      } else if (c.type !== 'text')
        rules.push({
          rule: 'type',
          column: name,
          when: `NOT ok${k}`,
          what: typeProblem(c.type, name),
          value: `c${k}`,
        });
      if (c.min !== undefined)
        rules.push({
          rule: 'min',
          column: name,
          when: `ok${k} AND (c${k})::numeric < ${literal(c.min)}`,
          what: `with ${name} below the minimum of ${c.min}`,
          value: `c${k}`,
        });
      if (c.max !== undefined)
        rules.push({
          rule: 'max',
          column: name,
          when: `ok${k} AND (c${k})::numeric > ${literal(c.max)}`,
          what: `with ${name} above the maximum of ${c.max}`,
          value: `c${k}`,
        });
      if (c.values)
        rules.push({
          rule: 'values',
          column: name,
          when: `ok${k} AND ${typed(k)} NOT IN (${c.values.map((v) => literal(typeof v === 'number' ? v : String(v))).join(', ')})`,
          what: `with a ${name} not in ${JSON.stringify(c.values)}`,
          value: `c${k}`,
        });
      if (c.unique)
        rules.push({
          rule: 'unique',
          column: name,
          when: `c${k} IS NOT NULL AND ok${k} AND dup${k} > 1`,
          what: `repeating a ${name} seen before (it must be unique)`,
          value: `c${k}`,
        });
      if (g.kind === 'lonlat' && g.sourceSrid === 4326 && (c.name === g.lon || c.name === g.lat)) {
        const [what, bound] = c.name === g.lon ? ['longitude', 180] : ['latitude', 90];
        rules.push({
          rule: 'range',
          column: name,
          when: `ok${k} AND NOT ((c${k})::float8 BETWEEN -${bound} AND ${bound})`,
          what: `with a ${what} (${name}) outside -${bound}..${bound} (are lon and lat swapped, or is the CRS not WGS84?)`,
          value: `c${k}`,
        });
      }
    });
  if (geometry && !options.geometryOnly) {
    const declared = g.kind === 'wkt' || g.kind === 'geojson' ? g.type : undefined;
    const dims = g.kind === 'wkt' || g.kind === 'geojson' ? g.dimensions : 2;
    if (g.kind === 'wkt')
      rules.push({
        rule: 'geometry',
        column: sourceName(cols[index(g.column)]!),
        when: `c${index(g.column)} IS NOT NULL AND NOT g_ok`,
        what: 'whose geometry is not valid WKT',
        value: `left(c${index(g.column)}, 80)`,
      });
    if (g.kind === 'geojson' && g.required)
      rules.push({ rule: 'required', column: 'geometry', when: '_g IS NULL', what: 'with no geometry' });
    if (g.kind !== 'lonlat')
      rules.push(
        dims === 2
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
    if (dataset.bbox && !options.waive) {
      const [x0, y0, x1, y1] = dataset.bbox;
      const gx =
        (g.kind === 'lonlat' || g.kind === 'wkt' || g.kind === 'geojson') && g.sourceSrid !== 4326
          ? 'ST_Transform(g, 4326)'
          : 'g';
      rules.push({
        rule: 'bbox',
        column: 'geometry',
        when: `g IS NOT NULL AND NOT (ST_XMin(${gx}) >= ${x0} AND ST_YMin(${gx}) >= ${y0} AND ST_XMax(${gx}) <= ${x1} AND ST_YMax(${gx}) <= ${y1})`,
        what: `outside the dataset's bbox [${dataset.bbox.join(', ')}]`,
        detail: `format('extent [%s, %s, %s, %s]', ST_XMin(${gx}), ST_YMin(${gx}), ST_XMax(${gx}), ST_YMax(${gx}))`,
      });
    }
    if (invalid && !options.waive && dataset.invalidGeometry === 'refuse')
      rules.push({
        rule: 'invalid_geometry',
        column: 'geometry',
        when: `g IS NOT NULL AND ${invalid}`,
        what: 'with invalid geometry (invalidGeometry: refuse; repair or keep accept it)',
        detail: reason,
      });
    if (
      invalid &&
      !options.waive &&
      dataset.invalidGeometry === 'repair' &&
      (declared || g.kind === 'lonlat')
    )
      rules.push({
        rule: 'invalid_geometry',
        column: 'geometry',
        when: `CASE WHEN g IS NOT NULL AND ${invalid} THEN ${g.kind === 'lonlat' ? 'true' : `ST_GeometryType(ST_MakeValid(g, 'method=structure')) <> ${literal(`ST_${declared}`)}`} ELSE false END`,
        what:
          g.kind === 'lonlat'
            ? 'with an invalid point, which no repair can mend'
            : `with invalid geometry that a repair would not keep a ${declared} (geometry.type)`,
        detail: reason,
      });
  }
  // Invalid geometries are counted whatever the policy: the receipt says how many, and where.
  const invalidAt = invalid ? rules.length : -1;
  if (invalid)
    rules.push({
      rule: 'invalid_geometry',
      column: 'geometry',
      when: `g IS NOT NULL AND ${invalid}`,
      what: '',
      detail: reason,
    });

  const unique = options.geometryOnly ? [] : cols.flatMap((c, k) => (c.unique ? [k] : []));
  const windows = unique
    .map(
      (k) =>
        `row_number() OVER (PARTITION BY CASE WHEN ok${k} THEN ${typed(k)} END ORDER BY _pos) AS dup${k}`,
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
  // Invalid geometries report themselves in NOTICEs, one a row: not wanted here.
  await db.exec('SET client_min_messages = warning');
  let counts: Record<string, unknown>;
  try {
    [counts = {}] = await db.query<Record<string, unknown>>(
      `WITH s AS MATERIALIZED (${staged('NOT (_pos = ANY($1::bigint[]))')}),
       t AS (SELECT s.*${windows ? `, ${windows}` : ''} FROM s)
       SELECT ${aggregates.join(', ')} FROM t`,
      [skipped],
    );
    // What the first rows of each kind hold, and why PostGIS finds a geometry invalid.
    const first = [...new Set(rules.flatMap((_, i) => (counts[`a${i}`] as number[] | null) ?? []))];
    // The value of the first unique column names a row in the sender's own tools better than its number.
    const keyAt = cols.findIndex((c) => c.unique);
    const shown = rules.flatMap((r, i) => [
      ...(r.value ? [`(${r.value})::text AS v${i}`] : []),
      ...(r.detail ? [`CASE WHEN ${r.when} THEN (${r.detail})::text END AS d${i}`] : []),
    ]);
    const details = new Map<number, Record<string, string | null>>();
    if (keyAt >= 0) shown.push(`c${keyAt} AS key`);
    if (first.length > 0 && shown.length > 0)
      for (const row of await db.query<Record<string, string | null> & { pos: number }>(
        `SELECT _pos::int AS pos, ${shown.join(', ')} FROM (${staged('_pos = ANY($1::bigint[])')}) s`,
        [first],
      ))
        details.set(row.pos, row);

    const position = (pos: number, i: number): Position => {
      const d = details.get(pos);
      const value = d?.[`v${i}`];
      const detail = d?.[`d${i}`];
      const key = d?.key;
      return {
        ...(dataset.format === 'csv' ? { line: pos } : { feature: pos - 1 }),
        ...(layer !== undefined ? { layer } : {}),
        ...(key !== null && key !== undefined
          ? { key: { column: sourceName(cols[keyAt]!), value: cut(key) } }
          : {}),
        ...(value !== null && value !== undefined ? { value: cut(value) } : {}),
        ...(detail !== null && detail !== undefined ? { detail } : {}),
      };
    };
    const noun = nounOf(dataset);
    const problems: Problem[] = [];
    rules.forEach((r, i) => {
      const n = Number(counts[`n${i}`] ?? 0);
      if (i === invalidAt) {
        facts.invalid = n;
        return;
      }
      if (n > 0)
        problems.push(
          problem(
            r.rule,
            n,
            r.what,
            ((counts[`a${i}`] as number[] | null) ?? []).map((p) => position(p, i)),
            noun,
            r.column,
          ),
        );
    });
    const nonNull = Object.fromEntries(cols.map((c, k) => [c.name, Number(counts[`nn${k}`] ?? 0)]));
    return {
      problems,
      nonNull,
      geometry:
        invalidAt >= 0
          ? {
              invalid: facts.invalid ?? 0,
              at: ((counts[`a${invalidAt}`] as number[] | null) ?? []).map((p) => position(p, invalidAt)),
            }
          : undefined,
    };
  } finally {
    await db.exec('RESET client_min_messages').catch(() => {});
  }
}
