import { randomBytes } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import type { DatasetVersion } from '../archive/archive.ts';
import type { Dataset } from '../catalog/schema.ts';
import { recordChunks } from '../load/csv-records.ts';
import { type FeatureText, featureTexts, GeoJsonStructureError } from '../load/geojson-features.ts';
import { FeatureProblemError, RowWriter } from '../load/geojson-rows.ts';
import { PG_TYPES, sourceName } from '../load/table.ts';
import type { CopyChunk, Database } from '../ports/database.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { countNewlines } from '../util/bytes.ts';
import { literal } from '../util/sql.ts';
import { MAX_POSITIONS, MAX_PROBLEMS, type Position, type Problem, type Rule } from './receipt.ts';
import { type CurrentFacts, isRequired, nounOf, problem, tableProblems, typeProblem } from './rules.ts';

/**
 * Reads a file that broke its dataset's contract a second time, to list every problem rather than the first:
 * each row goes, as text, into a staging table of its own, and each rule of the contract is one SQL
 * condition over it, counted, with the first rows that break it. A good file never comes here: its load is
 * the fast one, and only a refusal (or an invalid geometry to point at) pays for this.
 */

export interface Diagnosis {
  /** Rows (CSV records, GeoJSON features) in the file. */
  readonly rows: number;
  readonly problems: Problem[];
  readonly truncated: boolean;
  /** Geometries PostGIS finds invalid, whatever the policy, with the first few and their reasons. */
  readonly geometry: { invalid: number; at: Position[] } | undefined;
  readonly nonNull: Record<string, number>;
}

export interface DiagnoseOptions {
  /** The current version, for the change limits. */
  readonly current?: CurrentFacts;
  /** Only find the invalid geometries (a file accepted with them, whose receipt says where they are). */
  readonly geometryOnly?: boolean;
  /** The rules an operator may waive (row counts, change, bbox, invalid geometry) are not applied. */
  readonly waive?: boolean;
}

/** The file cannot be read row by row (its header, or its structure, is wrong): its first problem is all there is. */
export class NotDiagnosableError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NotDiagnosableError';
  }
}

/** Problems found while reading, before SQL sees the rows: counted per kind, with the first few. */
class Tally {
  private readonly kinds = new Map<
    string,
    { rule: Rule; column?: string; what: string; at: Position[]; count: number }
  >();
  add(rule: Rule, column: string | undefined, what: string, at: Position): void {
    const key = `${rule}\u0000${column ?? ''}\u0000${what}`;
    const k = this.kinds.get(key) ?? { rule, column, what, at: [], count: 0 };
    k.count++;
    if (k.at.length < MAX_POSITIONS) k.at.push(at);
    this.kinds.set(key, k);
  }
  problems(noun: string): Problem[] {
    return [...this.kinds.values()].map((k) => problem(k.rule, k.count, k.what, k.at, noun, k.column));
  }
}

const cut = (s: string) => (s.length > 80 ? `${s.slice(0, 77)}...` : s);

const NEEDS_ESCAPE = /[\\\n\r\t]/;
/** One value in COPY text format. */
function copyText(v: string | null | undefined): string {
  if (v === null || v === undefined) return '\\N';
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/[\\\n\r\t]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t',
  );
}

/** Every problem of an archived file against its dataset's contract. */
export async function diagnose(
  db: Database,
  store: ObjectStore,
  dataset: Dataset,
  version: DatasetVersion,
  options: DiagnoseOptions = {},
): Promise<Diagnosis> {
  const staging = `strata_check_${randomBytes(6).toString('hex')}`;
  const noun = nounOf(dataset);
  const columns = dataset.columns.map((_, i) => `c${i}`);
  const withGeometry = dataset.format === 'geojson' && dataset.geometry.kind === 'geojson';
  return db.session(async () => {
    await db.exec(
      dataset.format === 'geojson'
        ? `CREATE TEMP TABLE ${staging} (_pos bigint GENERATED ALWAYS AS IDENTITY, ${[...columns, ...(withGeometry ? ['_g'] : [])].map((c) => `${c} text`).join(', ')})`
        : `CREATE TEMP TABLE ${staging} (_pos bigint, ${columns.map((c) => `${c} text`).join(', ')})`,
    );
    try {
      const tally = new Tally();
      const skipped: number[] = [];
      const source = await store.get('archive', version.key);
      const rows =
        dataset.format === 'csv'
          ? await fillFromCsv(db, staging, dataset, source, tally)
          : await fillFromGeoJson(db, staging, dataset, source, tally, skipped, withGeometry);
      const checked = await checkStaged(db, staging, dataset, skipped, options);
      const all = [
        ...(options.geometryOnly ? [] : tally.problems(noun)),
        ...checked.problems,
        ...(options.geometryOnly || options.waive
          ? []
          : tableProblems(dataset, { rows, nonNull: checked.nonNull }, options.current)),
      ];
      return {
        rows,
        problems: all.slice(0, MAX_PROBLEMS),
        truncated: all.length > MAX_PROBLEMS,
        geometry: checked.geometry,
        nonNull: checked.nonNull,
      };
    } finally {
      await db.exec(`DROP TABLE IF EXISTS pg_temp.${staging}`).catch(() => {});
    }
  });
}

/** CSV records as text rows with their line, in the dataset's column order. Returns the records read. */
async function fillFromCsv(
  db: Database,
  staging: string,
  dataset: Dataset,
  source: AsyncIterable<Buffer>,
  tally: Tally,
): Promise<number> {
  const chunks = recordChunks(source);
  const first = await chunks.next();
  if (first.done) return 0;
  const delimiter = dataset.csv.delimiter;
  let header: string[];
  try {
    header =
      (
        parseCsv(first.value.data.toString('utf8').replace(/^\uFEFF/, ''), {
          delimiter,
          relax_column_count: true,
        }) as string[][]
      )[0] ?? [];
  } catch (e) {
    throw new NotDiagnosableError(`the header row is not valid CSV: ${(e as Error).message}`);
  }
  const bySource = new Map(dataset.columns.map((c, i) => [sourceName(c), i]));
  const order = header.map((h) => bySource.get(h.trim()));
  if (
    order.length !== dataset.columns.length ||
    new Set(order).size !== order.length ||
    order.includes(undefined)
  )
    throw new NotDiagnosableError("the header does not name the dataset's columns");
  const width = order.length;
  // The line the next record starts on.
  let line = countNewlines(first.value.data) + 1;
  let rows = 0;
  const cast = (value: string, context: { quoting: boolean }) =>
    context.quoting || value !== '' ? value : null;

  async function* body(): AsyncGenerator<CopyChunk> {
    for await (const chunk of chunks) {
      let records: { record: (string | null)[]; info: { lines: number } }[];
      try {
        records = parseCsv(chunk.data, {
          delimiter,
          relax_column_count: true,
          relax_quotes: true,
          info: true,
          cast,
        }) as unknown as typeof records;
      } catch (e) {
        throw new NotDiagnosableError(
          `the file is not valid CSV after line ${line}: ${(e as Error).message}`,
        );
      }
      let out = '';
      let n = 0;
      let previousEnd = 0;
      for (const { record, info } of records) {
        const at = line + previousEnd;
        previousEnd = info.lines;
        rows++;
        if (record.length !== width) {
          tally.add('fields', undefined, `with a different number of fields than the header (${width})`, {
            line: at,
            value: `${record.length} fields`,
          });
          continue;
        }
        const bad = record.find((v) => v?.includes('\uFFFD'));
        if (bad !== undefined) {
          tally.add('encoding', undefined, 'with bytes that are not UTF-8', {
            line: at,
            value: cut(bad ?? ''),
          });
          continue;
        }
        const values: (string | null)[] = new Array(width);
        for (let k = 0; k < width; k++) values[order[k]!] = record[k]!;
        out += `${at}\t${values.map(copyText).join('\t')}\n`;
        n++;
      }
      line += countNewlines(chunk.data);
      if (n > 0) yield { data: Buffer.from(out), rows: n };
    }
  }
  const list = dataset.columns.map((_, i) => `c${i}`).join(', ');
  await db.copyFrom(`${staging} (_pos, ${list})`, '', body());
  return rows;
}

/** GeoJSON features as text rows, numbered in order; a feature that cannot be made a row leaves a placeholder. */
async function fillFromGeoJson(
  db: Database,
  staging: string,
  dataset: Dataset,
  source: AsyncIterable<Buffer>,
  tally: Tally,
  skipped: number[],
  withGeometry: boolean,
): Promise<number> {
  const g = dataset.geometry;
  // The rows the load makes, but every value lands as text: SQL then tells which would not fit.
  const writer = new RowWriter({
    types: dataset.columns.map((c) => c.type),
    keys: dataset.columns.map(sourceName),
    srid: g.kind === 'geojson' ? g.sourceSrid : 4326,
    withGeometry,
  });
  const placeholder: FeatureText = {
    text: Buffer.alloc(0),
    type: 'Feature',
    geometry: null,
    properties: undefined,
  };
  let index = 0;
  async function* body(): AsyncGenerator<CopyChunk> {
    for await (const ft of featureTexts(source)) {
      try {
        writer.add(ft, index);
      } catch (e) {
        if (!(e instanceof FeatureProblemError)) throw e;
        const { column, reason } = e.problem;
        if (column === 'geometry')
          tally.add('geometry', 'geometry', 'whose geometry cannot be read', {
            feature: index,
            detail: reason,
          });
        else tally.add('file', column, 'that are not readable features', { feature: index, detail: reason });
        writer.add(placeholder, index);
        skipped.push(index + 1);
      }
      index++;
      if (writer.size >= 4 << 20) yield writer.take();
    }
    if (writer.rows > 0) yield writer.take();
  }
  const list = [...dataset.columns.map((_, i) => `c${i}`), ...(withGeometry ? ['_g'] : [])].join(', ');
  try {
    await db.copyFrom(`${staging} (${list})`, '', body());
  } catch (e) {
    if (e instanceof GeoJsonStructureError) throw new NotDiagnosableError(e.message);
    throw e;
  }
  return index;
}

/** One rule as SQL over the staged rows: the rows it counts, what it says of them, and what to show of the first. */
interface SqlRule {
  readonly rule: Rule;
  readonly column?: string;
  readonly when: string;
  readonly what: string;
  readonly value?: string;
  readonly detail?: string;
}

async function checkStaged(
  db: Database,
  staging: string,
  dataset: Dataset,
  skipped: readonly number[],
  options: DiagnoseOptions,
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
  } else if (g.kind === 'geojson' && dataset.format === 'geojson') {
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
    if (!options.waive && dataset.invalidGeometry === 'refuse')
      rules.push({
        rule: 'invalid_geometry',
        column: 'geometry',
        when: 'g IS NOT NULL AND NOT ST_IsValid(g)',
        what: 'with invalid geometry (invalidGeometry: refuse; repair or keep accept it)',
        detail: 'ST_IsValidReason(g)',
      });
    if (!options.waive && dataset.invalidGeometry === 'repair' && (declared || g.kind === 'lonlat'))
      rules.push({
        rule: 'invalid_geometry',
        column: 'geometry',
        when: `CASE WHEN g IS NOT NULL AND NOT ST_IsValid(g) THEN ${g.kind === 'lonlat' ? 'true' : `ST_GeometryType(ST_MakeValid(g, 'method=structure')) <> ${literal(`ST_${declared}`)}`} ELSE false END`,
        what:
          g.kind === 'lonlat'
            ? 'with an invalid point, which no repair can mend'
            : `with invalid geometry that a repair would not keep a ${declared} (geometry.type)`,
        detail: 'ST_IsValidReason(g)',
      });
  }
  // Invalid geometries are counted whatever the policy: the receipt says how many, and where.
  const invalidAt = geometry ? rules.length : -1;
  if (geometry)
    rules.push({
      rule: 'invalid_geometry',
      column: 'geometry',
      when: 'g IS NOT NULL AND NOT ST_IsValid(g)',
      what: '',
      detail: 'ST_IsValidReason(g)',
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
    const shown = rules.flatMap((r, i) => [
      ...(r.value ? [`(${r.value})::text AS v${i}`] : []),
      ...(r.detail ? [`CASE WHEN ${r.when} THEN (${r.detail})::text END AS d${i}`] : []),
    ]);
    const details = new Map<number, Record<string, string | null>>();
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
      return {
        ...(dataset.format === 'geojson' ? { feature: pos - 1 } : { line: pos }),
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
