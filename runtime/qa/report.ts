import { posix } from 'node:path';
import type { Output, ProductEntry } from '../catalog/schema.ts';
import { BuildError, type CheckFailedError, type CheckResult } from '../errors.ts';
import { rowListKey } from '../layout/buckets.ts';
import type { Platform } from '../platform/platform.ts';
import type { Database } from '../ports/database.ts';
import { readJson } from '../ports/object-store.ts';
import { isLockedUpstream, type LockedInput, type QaSummary } from '../publish/manifest.ts';
import { readLatest, readManifestAt } from '../publish/versions.ts';
import { type JobHooks, step } from '../runs/steps.ts';
import { qualified } from '../util/sql.ts';
import { reportAssets } from './assets.ts';
import { renderReport } from './html.ts';
import { drawRows, type MapLayer } from './map.ts';
import {
  diffing,
  type Fingerprint,
  fingerprint,
  type RowDiffResult,
  RowListDiff,
  rowListSelect,
} from './rows.ts';
import {
  failedQaLocation,
  type HistoryEntry,
  type OutputQa,
  publishedQaLocation,
  type QaInput,
  type QaLocation,
  QaReport,
  ROW_HASH_METHOD,
  type RowChanges,
  type RowList,
  type TableStats,
} from './schema.ts';
import { type TableColumn, tableColumns, tableStats } from './stats.ts';

/** How far the report goes, in one place. The map's limits keep a page of a million rows light. */
export const QA_LIMITS = {
  /** Above this many rows, distinct counts are PostgreSQL's estimates (exact counts sort every column). */
  exactDistinctMaxRows: 200_000,
  /** Rows shown per kind of change, and removed keys listed. */
  samples: 10,
  /** Changed and added rows highlighted at most. */
  marks: 5_000,
  map: { features: 20_000, simplifyAboveVertices: 500_000, simplifyFraction: 0.01, properties: 8 },
  /** Versions in the row-count chart, this build included. */
  history: 12,
} as const;

/** What the report is made from: a build schema that still holds the output tables, and the build's checks. */
export interface QaBuild {
  readonly schema: string;
  readonly entry: ProductEntry;
  readonly runId: string;
  readonly checks: readonly CheckResult[];
  readonly builtAt: Date;
  /** The version being published; undefined for a build that failed its checks. */
  readonly version?: string;
  /** The build's lock: what it read. */
  readonly inputs?: readonly LockedInput[];
}

/**
 * The lock as the report shows it: an upstream product's version links to that version's own report,
 * relative to where this one is (a failed build's report, in the archive bucket, names the version only).
 */
function qaInputs(build: QaBuild, here: QaLocation): QaInput[] {
  return (build.inputs ?? []).map((i) => {
    if (!isLockedUpstream(i)) return { alias: i.alias, kind: 'dataset', name: i.dataset, version: i.version };
    const there = publishedQaLocation(i.product, i.version).html;
    const link = here.bucket === 'egress' ? { qa: posix.relative(posix.dirname(here.html), there) } : {};
    return {
      alias: i.alias,
      kind: 'product',
      name: i.product,
      output: i.output,
      version: i.version,
      ...link,
    };
  });
}

interface Previous {
  readonly version: string;
  readonly builtAt: string;
  readonly report: QaReport | undefined;
  readonly rows: Record<string, number>;
}

/** The latest published version, with its own report's figures when it has one. */
async function readPrevious(p: Platform, product: string): Promise<Previous | undefined> {
  const latest = await readLatest(p.store, product);
  if (!latest) return undefined;
  const manifest = await readManifestAt(p.store, latest.manifest);
  const location = publishedQaLocation(product, latest.version);
  let report: QaReport | undefined;
  if (await p.store.exists('egress', location.json)) {
    const parsed = QaReport.safeParse(await readJson(p.store, 'egress', location.json));
    if (parsed.success) report = parsed.data;
  }
  const rows: Record<string, number> = {};
  for (const o of manifest.outputs) rows[o.name] ??= o.rows;
  return { version: latest.version, builtAt: manifest.builtAt, report, rows };
}

const sameList = (a: readonly string[] | null, b: readonly string[] | null) =>
  JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Which previous row list can be compared with, and what to tell the reader when none can. */
function comparable(
  previous: Previous | undefined,
  before: OutputQa | undefined,
  key: string[] | null,
  f: Fingerprint,
) {
  const notes: string[] = [];
  let list: RowList | undefined;
  if (!previous) notes.push('This is the first version: there is nothing to compare it with.');
  else if (!previous.report)
    notes.push(
      `Version ${previous.version} has no QA figures (it was published before QA reports), so rows are not compared.`,
    );
  else if (!before) notes.push(`Version ${previous.version} had no output of this name.`);
  else if (!before.rowList || before.rowList.method !== ROW_HASH_METHOD)
    notes.push(
      `Version ${previous.version} kept no row list this version can read, so rows are not compared.`,
    );
  else if (!sameList(before.rowList.keyColumns, key))
    notes.push(
      `The key changed (${before.rowList.keyColumns?.join(', ') ?? 'none'} before, ${key?.join(', ') ?? 'none'} now), so rows are not compared.`,
    );
  else if (before.rowList.keyEncoding !== f.keyEncoding)
    notes.push('The key changed type, so rows are not compared.');
  else list = before.rowList;
  return { list, notes };
}

/** What one output's part of the report is made from. */
interface OutputSource {
  readonly p: Platform;
  readonly build: QaBuild;
  readonly output: Output;
  /** Its place among the product's outputs, for messages that point into product.yaml. */
  readonly index: number;
  readonly previous: Previous | undefined;
  /** Whether to keep this version's row list, for the next version to compare with. */
  readonly writeRowList: boolean;
}

/** How an output's rows are compared with the previous version's, and what the reader is told of it. */
interface Comparison {
  readonly name: string;
  /** Qualified table name. */
  readonly table: string;
  readonly columns: readonly TableColumn[];
  readonly key: string[] | null;
  readonly before: OutputQa | undefined;
  readonly f: Fingerprint;
  /** The previous version's row list, when it can be compared with. */
  readonly list: RowList | undefined;
  /** Whether a changed row can be told from an unchanged one (the same columns were hashed). */
  readonly compareValues: boolean;
  readonly notes: string[];
  /** Where this version's row list is kept, when it is. */
  readonly listKey: string | undefined;
}

/** One output's part of the report: its figures, its rows against the previous version's, and its map. */
async function describeOutput(o: OutputSource): Promise<{ qa: OutputQa; layer: MapLayer | undefined }> {
  const c = await compareWith(o);
  const ms = { stats: 0, rows: 0, map: 0 };
  const { current, d } = await readTable(o, c, ms);
  if (d.duplicateKeys > 0)
    c.notes.push(
      `${d.duplicateKeys} row(s) share their key with another row: the key is not unique, so those rows are paired in no meaningful order.`,
    );
  const drawn = await keepTime(ms, 'map', () => drawOutput(o.p.db, c, current, d));
  const { key, list, f } = c;
  const valuesTold = key !== null && c.compareValues;
  const changes: RowChanges | null = list
    ? {
        basis: key ? 'key' : 'row',
        added: d.added,
        removed: d.removed,
        changed: valuesTold ? d.changed : null,
        unchanged: valuesTold ? d.matched - d.changed : key ? null : d.matched,
        matched: d.matched,
        duplicateKeys: d.duplicateKeys,
        samples: {
          added: drawn.samples.added,
          changed: drawn.samples.changed,
          removed: sortedKeys(d.removedKeys),
        },
      }
    : null;
  const rowList: RowList | null = c.listKey
    ? {
        key: c.listKey,
        method: ROW_HASH_METHOD,
        keyColumns: key,
        keyEncoding: f.keyEncoding,
        columns: f.columns,
      }
    : null;
  return {
    qa: {
      name: c.name,
      table: o.output.table,
      key,
      current,
      previous: c.before?.current ?? null,
      changes,
      notes: c.notes,
      rowList,
      map: drawn.map?.info ?? null,
      ms,
    },
    layer: drawn.map ?? undefined,
  };
}

/** Removed keys in order: numbers as numbers, the rest as text. */
const sortedKeys = (keys: Iterable<unknown>) =>
  [...keys].sort((a, b) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : 1,
  );

/** Reads the output's columns, checks its key against them, and decides how its rows are compared. */
async function compareWith(o: OutputSource): Promise<Comparison> {
  const { build, output, index, previous } = o;
  const product = build.entry.product;
  const name = output.name ?? output.table;
  const columns = await tableColumns(o.p.db, build.schema, output.table);
  if (columns.length === 0)
    throw new BuildError(`output table "${output.table}" was not created by any step`, { step: 'qa' });
  const key = output.key ?? null;
  for (const k of key ?? [])
    if (!columns.some((c) => c.name === k))
      throw new BuildError(
        `products/${product.name}/product.yaml: outputs[${index}].key: column "${k}" is not in table "${output.table}" (its columns: ${columns.map((c) => c.name).join(', ')})`,
        { step: 'qa', file: `products/${product.name}/product.yaml` },
      );
  const before = previous?.report?.outputs.find((x) => x.name === name);
  const f = fingerprint(columns, key);
  const { list, notes } = comparable(previous, before, key, f);
  const compareValues = !list || sameList(list.columns, f.columns);
  if (list && key && !compareValues)
    notes.push(
      'Columns were added, removed or retyped, so a changed row cannot be told from an unchanged one: rows are matched by key only.',
    );
  if (!key)
    notes.push(
      'No key is declared for this output, so rows are compared whole: a changed row counts as one removed and one added. Declare `key: [columns]` on the output to see changed rows.',
    );
  const listKey = o.writeRowList && build.version ? rowListKey(product.name, build.version, name) : undefined;
  const table = qualified(build.schema, output.table);
  return { name, table, columns, key, before, f, list, compareValues, notes, listKey };
}

/**
 * The output's figures, and its row list compared with the previous version's (kept for the next one when
 * asked). Each reads the whole table: at once, where the database has two connections.
 */
async function readTable(o: OutputSource, c: Comparison, ms: Record<'stats' | 'rows' | 'map', number>) {
  const { p, build, output } = o;
  const db = p.db;
  const validity = build.entry.product.checks.findIndex(
    (x) => x.type === 'geometry_valid' && x.table === output.table && x.column === output.geometry,
  );
  const [current, d] = await both(
    db,
    () =>
      keepTime(ms, 'stats', () =>
        tableStats(db, build.schema, output.table, c.columns, {
          geometry: output.geometry,
          invalid: validity >= 0 ? build.checks[validity]?.count : undefined,
          exactDistinctMaxRows: QA_LIMITS.exactDistinctMaxRows,
        }),
      ),
    () =>
      keepTime(ms, 'rows', async () => {
        const diff = new RowListDiff(c.list ? await p.store.get('egress', c.list.key) : undefined, {
          compareValues: c.compareValues,
          keyed: c.key !== null,
          maxMarks: QA_LIMITS.marks,
          maxRemovedKeys: QA_LIMITS.samples,
        });
        const rows = diffing(db.copyToLines(rowListSelect(c.table, c.f)), diff);
        if (c.listKey)
          await p.store.put('egress', c.listKey, rows, { contentType: 'text/tab-separated-values' });
        else for await (const _ of rows);
        return diff.finish();
      }),
  );
  return { current, d };
}

/** The rows the report shows (added and changed samples) and the map, within the report's limits. */
function drawOutput(db: Database, c: Comparison, current: TableStats, d: RowDiffResult) {
  const geometryStats = current.geometry;
  const features = geometryStats
    ? current.rows - (current.columns.find((x) => x.name === geometryStats.column)?.nulls ?? 0)
    : 0;
  if (geometryStats && !geometryStats.srid && features > 0)
    c.notes.push('The geometry has no SRID, so it is not drawn on the map.');
  const geometry = geometryStats
    ? { column: geometryStats.column, srid: geometryStats.srid, vertices: geometryStats.vertices, features }
    : undefined;
  return drawRows(
    db,
    {
      table: c.table,
      columns: c.columns,
      key: c.key,
      fingerprint: c.f,
      marks: d.marks,
      rows: current.rows,
      samples: QA_LIMITS.samples,
      geometry,
    },
    QA_LIMITS.map,
  );
}

/** Where the report's time went for an output, part by part: step() with hooks that keep only the time. */
function keepTime<T>(ms: Record<string, number>, part: string, work: () => Promise<T>): Promise<T> {
  return step(
    {
      onStep: (s) => {
        if (s.ms !== undefined) ms[part] = s.ms;
      },
    },
    part,
    work,
  );
}

/** Both at once where the database has a connection to spare (a server); one after the other on PGlite. */
async function both<A, B>(db: Database, side: () => Promise<A>, main: () => Promise<B>): Promise<[A, B]> {
  if (db.parallelCopies < 2) return [await side(), await main()];
  const [a, b] = await Promise.allSettled([db.beside(() => withReportSettings(db, side)), main()]);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return [a.value, b.value];
}

/**
 * Settings for the report's queries, on its connection only: sorting a million fingerprints wants more than
 * PostgreSQL's default 4 MB, and JIT compilation, which the planner asks for as soon as a geography function
 * is in a query (their declared cost is high), costs a fixed 0.2 s or more that these one-pass queries never
 * win back.
 */
async function withReportSettings<T>(db: Database, fn: () => Promise<T>): Promise<T> {
  await db.exec(`SET work_mem = '128MB'; SET jit = off`);
  try {
    return await fn();
  } finally {
    await db.exec('RESET work_mem; RESET jit').catch(() => {});
  }
}

async function compose(
  p: Platform,
  build: QaBuild,
  writeRowLists: boolean,
  location: QaLocation,
): Promise<{ report: QaReport; layers: Map<string, MapLayer> }> {
  const started = Date.now();
  const product = build.entry.product;
  const previous = await readPrevious(p, product.name);
  const outputs: OutputQa[] = [];
  const layers = new Map<string, MapLayer>();
  await withReportSettings(p.db, async () => {
    for (const [i, output] of product.outputs.entries()) {
      const { qa, layer } = await describeOutput({
        p,
        build,
        output,
        index: i,
        previous,
        writeRowList: writeRowLists,
      });
      outputs.push(qa);
      if (layer) layers.set(qa.name, layer);
    }
  });
  const earlier: HistoryEntry[] = previous
    ? (previous.report?.history ?? [
        { label: previous.version, builtAt: previous.builtAt, published: true, rows: previous.rows },
      ])
    : [];
  const history = [
    ...earlier,
    {
      label: build.version ?? build.runId,
      builtAt: build.builtAt.toISOString(),
      published: build.version !== undefined,
      rows: Object.fromEntries(outputs.map((o) => [o.name, o.current.rows])),
    },
  ].slice(-QA_LIMITS.history);
  const report: QaReport = {
    format: 'strata.qa/1',
    product: product.name,
    ...(product.title ? { title: product.title } : {}),
    status: build.version ? 'published' : 'checks-failed',
    version: build.version ?? null,
    runId: build.runId,
    builtAt: build.builtAt.toISOString(),
    engine: p.db.engine,
    previous: previous ? { version: previous.version, builtAt: previous.builtAt } : null,
    inputs: qaInputs(build, location),
    checks: build.checks.map((c) => ({ ...c, sample: [...c.sample] })),
    outputs,
    history,
    ms: Date.now() - started,
  };
  return { report, layers };
}

async function write(
  p: Platform,
  location: QaLocation,
  report: QaReport,
  layers: Map<string, MapLayer>,
): Promise<void> {
  const html = renderReport(report, layers, await reportAssets());
  await p.store.put(location.bucket, location.json, `${JSON.stringify(report, null, 2)}\n`, {
    contentType: 'application/json',
  });
  await p.store.put(location.bucket, location.html, html, { contentType: 'text/html; charset=utf-8' });
}

function summarize(location: QaLocation, report: QaReport): QaSummary {
  const failed = report.checks.filter((c) => !c.passed && c.severity === 'error').length;
  const warned = report.checks.filter((c) => !c.passed && c.severity === 'warn').length;
  return {
    ...location,
    previous: report.previous?.version ?? null,
    checks: { passed: report.checks.length - failed - warned, warned, failed },
    outputs: report.outputs.map((o) => ({
      name: o.name,
      rows: o.current.rows,
      previousRows: o.previous?.rows ?? null,
      added: o.changes?.added ?? null,
      removed: o.changes?.removed ?? null,
      changed: o.changes?.changed ?? null,
    })),
  };
}

/**
 * Writes the QA report of a version about to be published, beside where its manifest will be: `qa.html`,
 * `qa.json` and the row lists the next version compares with. Returns the summary for the manifest.
 */
export async function publishQaReport(
  p: Platform,
  build: QaBuild & { readonly version: string },
  hooks: JobHooks = {},
): Promise<QaSummary> {
  const location = publishedQaLocation(build.entry.product.name, build.version);
  const report = await step(
    hooks,
    'qa report',
    async () => {
      const { report, layers } = await compose(p, build, true, location);
      await write(p, location, report, layers);
      return report;
    },
    (r) => (r.previous ? `against ${r.previous.version}` : 'first version'),
  );
  return summarize(location, report);
}

/**
 * Keeps the QA report of a build that failed its checks in the archive under `runs/<runId>/`, and records
 * where on the error (so on the run). A report that cannot be written is recorded too, and never hides the
 * checks' failure.
 */
export async function reportFailedChecks(
  p: Platform,
  error: CheckFailedError,
  build: QaBuild,
): Promise<CheckFailedError> {
  try {
    const location = failedQaLocation(build.runId);
    const { report, layers } = await compose(p, { ...build, version: undefined }, false, location);
    await write(p, location, report, layers);
    return error.withContext({ qaReport: location });
  } catch (e) {
    return error.withContext({ qaReportError: (e as Error).message ?? String(e) });
  }
}
