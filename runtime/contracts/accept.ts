import { currentLoaded, type DatasetVersion } from '../archive/archive.ts';
import { firstAt, type Problem, type ReceiptChange, type ReceiptGeometry } from '../archive/receipt.ts';
import type { Dataset } from '../catalog/schema.ts';
import { withoutJit } from '../db/jit.ts';
import { DATASETS_SCHEMA } from '../load/table.ts';
import type { Database, Queryable } from '../ports/database.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { ident, literal, qualified } from '../util/sql.ts';
import { diagnose } from './diagnose.ts';
import {
  type CurrentFacts,
  invalidGeometrySql,
  needsNonNull,
  nounOf,
  percentChange,
  problem,
  tableProblems,
} from './rules.ts';

/**
 * The contract on the fast path: a loaded table, still inside its load's transaction, is held to the rules
 * that COPY into a typed, constrained table cannot check (row counts, change against the current version,
 * geometry validity and bbox) with one pass of aggregates. A file that passes pays only for that pass; one
 * that does not is refused here, and `diagnose` then reads it again to say everything that is wrong.
 */

/** The file breaks its contract: the load is refused, and the caller lists every problem. */
export class ContractBrokenSignal extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map((p) => p.message).join('; ') || 'the file breaks its contract');
    this.name = 'ContractBrokenSignal';
  }
}

/** What a loaded file's receipt says of it. */
export interface LoadedFacts {
  readonly rows: number;
  readonly bbox: [number, number, number, number] | null;
  readonly geometry?: ReceiptGeometry;
  readonly change?: ReceiptChange;
  readonly warnings: string[];
}

/** The current version as the change limits compare a file with it; none when it is `except` (the file itself). */
export async function currentFacts(
  db: Queryable,
  dataset: Dataset,
  except?: string,
): Promise<CurrentFacts | undefined> {
  const row = await currentLoaded(db, dataset.name);
  if (!row || row.version === except || row.rows === null || !row.table) return undefined;
  const facts = { version: row.version, rows: row.rows };
  if (!needsNonNull(dataset)) return facts;
  return { ...facts, nonNull: await nonNullCounts(db, dataset, row.table) };
}

async function nonNullCounts(
  db: Queryable,
  dataset: Dataset,
  table: string,
): Promise<Record<string, number>> {
  const [row] = await db.query<Record<string, number>>(
    `SELECT ${dataset.columns.map((c, k) => `count(${ident(c.name)})::int AS n${k}`).join(', ')} FROM ${qualified(DATASETS_SCHEMA, table)}`,
  );
  return Object.fromEntries(dataset.columns.map((c, k) => [c.name, Number(row?.[`n${k}`] ?? 0)]));
}

/** Rounds a bbox outward to a millionth of its unit. */
const outward = (b: number[]): [number, number, number, number] => [
  Math.floor(b[0]! * 1e6) / 1e6,
  Math.floor(b[1]! * 1e6) / 1e6,
  Math.ceil(b[2]! * 1e6) / 1e6,
  Math.ceil(b[3]! * 1e6) / 1e6,
];

/** How a load is judged: what the dataset says, softened by an operator's `waive`. */
interface Judging {
  readonly dataset: Dataset;
  readonly policy: Dataset['invalidGeometry'];
  readonly checkBbox: boolean;
  readonly waive: boolean;
}

/**
 * Holds a loaded table to its dataset's contract, inside the load's transaction. Throws
 * ContractBrokenSignal when the file breaks it; repairs or keeps invalid geometries as the dataset says.
 * `waive` (an operator's release or promotion) applies only what the table itself enforces, and keeps
 * invalid geometries the policy would refuse.
 */
export async function checkLoaded(
  db: Database,
  store: ObjectStore,
  dataset: Dataset,
  version: DatasetVersion,
  loaded: { table: string; rows: number },
  options: { waive?: boolean } = {},
): Promise<LoadedFacts> {
  const t = qualified(DATASETS_SCHEMA, loaded.table);
  const waive = options.waive ?? false;
  const judging: Judging = {
    dataset,
    waive,
    policy: waive && dataset.invalidGeometry === 'refuse' ? 'keep' : dataset.invalidGeometry,
    checkBbox: !!dataset.bbox && !waive,
  };
  const current = await currentFacts(db, dataset, version.version);
  const facts = await withoutJit(db, () => onePass(db, judging, t));
  const nonNull = needsNonNull(dataset)
    ? Object.fromEntries(dataset.columns.map((c, k) => [c.name, Number(facts[`n${k}`] ?? 0)]))
    : undefined;
  const problems = waive ? [] : tableProblems(dataset, { rows: loaded.rows, nonNull }, current);
  problems.push(...countedProblems(judging, facts));
  if (problems.length > 0) throw new ContractBrokenSignal(problems);

  const invalid = Number(facts.invalid ?? 0);
  const mended = await invalidGeometries(db, store, judging, version, { table: t, invalid });
  const bbox = dataset.geometry.kind === 'none' ? null : await extentOf(db, loaded.table);
  return {
    rows: loaded.rows,
    bbox,
    ...(mended.geometry ? { geometry: mended.geometry } : {}),
    ...(current
      ? {
          change: {
            against: current.version,
            rowsBefore: current.rows,
            rowsAfter: loaded.rows,
            rowsPercent: percentChange(current.rows, loaded.rows),
          },
        }
      : {}),
    warnings: mended.warnings,
  };
}

/**
 * The aggregates the rules need, in one pass over the table, and only when a rule needs one: a CSV of
 * WGS84 points with no change limits needs none.
 */
async function onePass(db: Database, judging: Judging, t: string): Promise<Record<string, number | null>> {
  const { dataset, policy } = judging;
  const g = dataset.geometry;
  const declared = g.kind === 'wkt' || g.kind === 'geojson' ? g.type : undefined;
  const targetSrid = g.kind === 'none' ? undefined : g.targetSrid;
  const invalidSql = invalidGeometrySql(dataset, 'geom');
  const aggregates = needsNonNull(dataset)
    ? dataset.columns.map((c, k) => `count(${ident(c.name)})::int AS n${k}`)
    : [];
  if (invalidSql) {
    aggregates.push(`count(*) FILTER (WHERE geom IS NOT NULL AND ${invalidSql})::int AS invalid`);
    // A repair that would turn a declared Polygon into a MultiPolygon (a bow-tie's two halves) cannot be
    // stored, nor can a point be mended.
    if (policy === 'repair' && (declared || g.kind === 'lonlat'))
      aggregates.push(
        `count(*) FILTER (WHERE CASE WHEN geom IS NOT NULL AND ${invalidSql} THEN ${g.kind === 'lonlat' ? 'true' : `ST_GeometryType(ST_MakeValid(geom, 'method=structure')) <> ${literal(`ST_${declared}`)}`} ELSE false END)::int AS unrepairable`,
      );
  }
  if (judging.checkBbox) {
    const [x0, y0, x1, y1] = dataset.bbox!;
    const gx = targetSrid === 4326 ? 'geom' : 'ST_Transform(geom, 4326)';
    aggregates.push(
      `count(*) FILTER (WHERE geom IS NOT NULL AND NOT (ST_XMin(${gx}) >= ${x0} AND ST_YMin(${gx}) >= ${y0} AND ST_XMax(${gx}) <= ${x1} AND ST_YMax(${gx}) <= ${y1}))::int AS outside`,
    );
  }
  // Invalid geometries report themselves in NOTICEs, one a row: not wanted here. LOCAL: until the load commits.
  await db.exec('SET LOCAL client_min_messages = warning');
  if (aggregates.length === 0) return {};
  const [facts = {}] = await db.query<Record<string, number | null>>(
    `SELECT ${aggregates.join(', ')} FROM ${t}`,
  );
  return facts;
}

/** Problems counted by the pass; placed by `diagnose`, these stand in where a file cannot be read row by row again. */
function countedProblems(judging: Judging, facts: Record<string, number | null>): Problem[] {
  const { dataset } = judging;
  const noun = nounOf(dataset);
  const outside = Number(facts.outside ?? 0);
  const invalid = Number(facts.invalid ?? 0);
  const unrepairable = Number(facts.unrepairable ?? 0);
  const problems: Problem[] = [];
  if (outside > 0)
    problems.push(
      problem(
        'bbox',
        outside,
        `outside the dataset's bbox [${dataset.bbox!.join(', ')}]`,
        [],
        noun,
        'geometry',
      ),
    );
  if (invalid > 0 && judging.policy === 'refuse')
    problems.push(
      problem(
        'invalid_geometry',
        invalid,
        'with invalid geometry (invalidGeometry: refuse)',
        [],
        noun,
        'geometry',
      ),
    );
  if (unrepairable > 0)
    problems.push(
      problem(
        'invalid_geometry',
        unrepairable,
        'with invalid geometry that no repair can store',
        [],
        noun,
        'geometry',
      ),
    );
  return problems;
}

/** Repairs or keeps the invalid geometries of a file that passed, as the policy says, and where they are. */
async function invalidGeometries(
  db: Database,
  store: ObjectStore,
  judging: Judging,
  version: DatasetVersion,
  x: { table: string; invalid: number },
): Promise<{ geometry?: ReceiptGeometry; warnings: string[] }> {
  const { dataset, policy, waive } = judging;
  const { invalid } = x;
  if (dataset.geometry.kind === 'none') return { warnings: [] };
  const geometry: ReceiptGeometry = {
    policy: dataset.invalidGeometry,
    invalid,
    repaired: 0,
    kept: 0,
    at: [],
  };
  if (invalid === 0) return { geometry, warnings: [] };
  // Where they are, with PostGIS's reasons: the file is read again, only because it has some.
  const found = await diagnose(db, store, dataset, version, { geometryOnly: true });
  const at = found.geometry?.at ?? [];
  const first = firstAt(at, invalid);
  if (policy === 'repair') {
    const repaired = await repair(db, dataset, x.table);
    return {
      geometry: { ...geometry, repaired, at },
      warnings: [
        `${repaired} invalid geometr${repaired === 1 ? 'y' : 'ies'} repaired with ST_MakeValid (structure method), ${first}`,
      ],
    };
  }
  return {
    geometry: { ...geometry, kept: invalid, at },
    warnings: [
      `${invalid} invalid geometr${invalid === 1 ? 'y' : 'ies'} kept as sent (invalidGeometry: ${waive ? 'keep, on release' : 'keep'}), ${first}`,
    ],
  };
}

/**
 * The extent of a loaded table's geometry: read from its spatial index where it has one (the union at the
 * index's root, at no cost, to float precision and rounded outward), else by a pass over the table.
 */
export async function extentOf(
  db: Queryable,
  table: string,
): Promise<[number, number, number, number] | null> {
  const [indexed] = await db.query<{ x0: number | null; y0: number; x1: number; y1: number }>(
    `SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1
     FROM (SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND tablename = $2)
       THEN ST_EstimatedExtent($1, $2, 'geom')::box2d END AS e) x`,
    [DATASETS_SCHEMA, table],
  );
  const e =
    indexed && indexed.x0 !== null
      ? indexed
      : (
          await db.query<{ x0: number | null; y0: number; x1: number; y1: number }>(
            `SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1
             FROM (SELECT ST_Extent(geom) AS e FROM ${qualified(DATASETS_SCHEMA, table)}) x`,
          )
        )[0];
  return e && e.x0 !== null ? outward([e.x0, e.y0, e.x1, e.y1].map(Number)) : null;
}

/**
 * Mends invalid geometries in place with ST_MakeValid's structure method (the default method loses rows in
 * PGlite's PostGIS; see the README). A CSV's geometry is generated from its WKT column, so the WKT is
 * rewritten (in the source CRS, at full precision) and the geometry follows. Returns how many.
 */
async function repair(db: Queryable, dataset: Dataset, table: string): Promise<number> {
  const g = dataset.geometry;
  const invalid = 'geom IS NOT NULL AND NOT ST_IsValid(geom)';
  const update =
    g.kind === 'wkt'
      ? `UPDATE ${table} SET ${ident(g.column)} = ST_AsText(ST_MakeValid(ST_GeomFromText(${ident(g.column)}, ${g.sourceSrid}), 'method=structure'), 17) WHERE ${invalid} RETURNING 1`
      : `UPDATE ${table} SET geom = ST_MakeValid(geom, 'method=structure') WHERE ${invalid} RETURNING 1`;
  const [row] = await db.query<{ n: number }>(`WITH u AS (${update}) SELECT count(*)::int AS n FROM u`);
  return Number(row?.n ?? 0);
}

/** The table-level problems of a version sent again, against the current version (no load: it is loaded). */
export async function resendProblems(
  db: Queryable,
  dataset: Dataset,
  version: { version: string; rows: number; table: string },
): Promise<{ problems: Problem[]; current?: CurrentFacts }> {
  const current = await currentFacts(db, dataset, version.version);
  const nonNull = needsNonNull(dataset) ? await nonNullCounts(db, dataset, version.table) : undefined;
  return { problems: tableProblems(dataset, { rows: version.rows, nonNull }, current), current };
}
