import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse/sync';
import { currentLoaded, type DatasetVersion, loadedVersion, recordLoaded } from '../archive/archive.ts';
import { moveCurrent } from '../archive/current.ts';
import { isGdalFormat } from '../catalog/formats.ts';
import type { Column, Dataset } from '../catalog/schema.ts';
import { LoadError } from '../errors.ts';
import { type CopyChunk, CopyRejectedError, type Database, type Queryable } from '../ports/database.ts';
import { GdalFailedError } from '../ports/gdal.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { LoadProgress } from '../runs/steps.ts';
import { ident, literal, qualified } from '../util/sql.ts';
import { closest } from '../util/suggest.ts';
import { lineOfRecord, RecordTooLargeError, recordChunks } from './csv-records.ts';
import { HEAD_BYTES, wrongKind } from './file-kind.ts';
import { gdalColumns, gdalRows } from './gdal-rows.ts';
import { type GdalLayer, withGdalLayer } from './gdal-source.ts';
import { featureTexts, GeoJsonStructureError } from './geojson-features.ts';
import { rowsInline, rowsOnWorker } from './geojson-pool.ts';
import { FeatureProblemError, type RowSpec } from './geojson-rows.ts';
import type { UnzipLimits } from './safe-unzip.ts';
import {
  createTableSQL,
  DATASETS_SCHEMA,
  explainConstraint,
  finishTableSQL,
  GEOJSON_SRID,
  LOADING_SCHEMA,
  sourceName,
  versionTable,
} from './table.ts';

export interface LoadOptions {
  readonly onProgress?: (p: LoadProgress) => void;
  /** Build a GiST index on the geometry (default true). */
  readonly index?: boolean;
  /** Size of the chunks handed to COPY. */
  readonly chunkBytes?: number;
  /** GeoJSON files at least this large have their rows made on a worker thread. @default 16 MiB */
  readonly workerThresholdBytes?: number;
  /**
   * CSV files at least this large are loaded by several COPY statements at once where the database can
   * (a server; not PGlite), through a staging table. @default 16 MiB
   */
  readonly parallelThresholdBytes?: number;
  readonly maxRecordBytes?: number;
  /** Where formats read through GDAL get their work folder (unpacked zips), removed after each load. */
  readonly tmpDir?: string;
  /** Limits on what a zip may unpack to (zip bombs). */
  readonly unzip?: UnzipLimits;
  /**
   * Called inside the load's transaction once the table is filled and finished, before the load is
   * recorded: the dataset's contract (runtime/contracts). Throwing refuses the load and leaves nothing behind.
   */
  readonly accept?: (loaded: { table: string; rows: number; copies: number }) => Promise<void>;
}

export interface LoadResult {
  readonly table: string;
  readonly rows: number;
  /** False when the version was already loaded and nothing was done. */
  readonly loaded: boolean;
  /** COPY statements that ran at once (1 unless a large CSV went to a server). */
  readonly copies?: number;
}

/** The first `n` bytes of a stream (fewer if it is shorter), and the stream whole again. */
export async function withHead(
  source: AsyncIterator<Buffer>,
  n: number,
): Promise<{ head: Buffer; all: AsyncIterable<Buffer> }> {
  const taken: Buffer[] = [];
  let size = 0;
  while (size < n) {
    const next = await source.next();
    if (next.done) break;
    taken.push(next.value);
    size += next.value.length;
  }
  const head = Buffer.concat(taken).subarray(0, n);
  async function* all(): AsyncGenerator<Buffer> {
    try {
      yield* taken;
      for (let next = await source.next(); !next.done; next = await source.next()) yield next.value;
    } finally {
      // A reader that stops early (a refused row) closes the stream below, as a for-await over it would.
      await source.return?.(undefined);
    }
  }
  return { head, all: all() };
}

/** Counts bytes as they stream past, for progress. */
async function* counting(source: Readable, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    onBytes((chunk as Buffer).length);
    yield chunk as Buffer;
  }
}

/** How far a load has got, told to `onProgress` as rows arrive. */
class Progress {
  readonly now: { bytes: number; totalBytes: number; rows: number };
  constructor(
    totalBytes: number,
    private readonly onProgress?: (p: LoadProgress) => void,
  ) {
    this.now = { bytes: 0, totalBytes, rows: 0 };
  }
  report(): void {
    this.onProgress?.({ ...this.now });
  }
  readonly onRows = (n: number): void => {
    this.now.rows += n;
    this.report();
  };
}

/** What every way of filling a version's table shares. */
interface LoadJob {
  readonly db: Database;
  readonly store: ObjectStore;
  readonly dataset: Dataset;
  readonly version: DatasetVersion;
  readonly table: string;
  readonly options: LoadOptions;
  readonly progress: Progress;
}

/**
 * Loads an archived dataset version into `datasets."<name>@<version>"`, all or nothing: the table is
 * created, filled by a streamed COPY, indexed and registered in one transaction, so a refused row leaves
 * no table behind. A large CSV on a server is filled by several COPY statements at once instead, in a
 * staging table of `strata_loading` that the same kind of transaction then moves into place (or that is
 * dropped when any of them fails). Not to be called inside a transaction: other connections must see the
 * staging table.
 */
export async function loadVersion(
  db: Database,
  store: ObjectStore,
  dataset: Dataset,
  version: DatasetVersion,
  options: LoadOptions = {},
): Promise<LoadResult> {
  const table = versionTable(dataset.name, version.version);
  const loaded = await loadedVersion(db, dataset.name, version.version);
  if (loaded) return { table, rows: loaded.rows, loaded: false };
  const job: LoadJob = {
    db,
    store,
    dataset,
    version,
    table,
    options,
    progress: new Progress(version.size, options.onProgress),
  };
  // Formats beyond CSV and GeoJSON: ogr2ogr reads the file, its rows go through the same one-transaction COPY.
  if (isGdalFormat(dataset.format)) return loadThroughGdal(job);
  const source = await openArchived(job);
  return inParallel(job) ? loadInParallel(job, source) : loadInOneStatement(job, source);
}

/** Indexes, registers and shows the filled table; inside the load's transaction. */
async function finishLoad(
  job: LoadJob,
  filled: { rows: number; copies: number; dataset?: Dataset },
): Promise<LoadResult> {
  const { db, dataset, version, table, options } = job;
  const { rows, copies } = filled;
  for (const sql of finishTableSQL(filled.dataset ?? dataset, table, { index: options.index ?? true }))
    await db.exec(sql);
  await options.accept?.({ table, rows, copies });
  await recordLoaded(db, dataset.name, version.version, { table, rows });
  await refreshCurrentView(db, dataset.name);
  return { table, rows, loaded: true, copies };
}

function loadThroughGdal(job: LoadJob): Promise<LoadResult> {
  const { db, store, dataset, version, table, options, progress } = job;
  return withGdalLayer(store, dataset, version, { tmpDir: options.tmpDir, unzip: options.unzip }, (layer) =>
    db.transaction(async () => {
      await db.exec(createTableSQL(layer.dataset, table));
      const rows = await copyGdal(db, layer, version, qualified(DATASETS_SCHEMA, table), options, (n) => {
        progress.now.rows += n;
        // ogrinfo counted the features; bytes follow them, as far as a progress bar needs.
        const total = layer.layer.featureCount;
        progress.now.bytes = total
          ? Math.min(version.size, Math.round((version.size * progress.now.rows) / total))
          : 0;
        progress.report();
      });
      return finishLoad(job, { rows, copies: 1, dataset: layer.dataset });
    }),
  );
}

/** The archived bytes as a stream, counted for progress, once their first bytes say they are of the right kind. */
async function openArchived(job: LoadJob): Promise<AsyncIterable<Buffer>> {
  const { store, dataset, version, progress } = job;
  const counted = counting(await store.get('archive', version.key), (n) => {
    progress.now.bytes += n;
  });
  // A file of another kind (a zip sent as CSV) is told by its first bytes, before a reader makes sense of them.
  const { head, all } = await withHead(counted, HEAD_BYTES);
  const wrong = wrongKind(dataset, head);
  if (wrong) {
    await counted.return(undefined);
    throw new LoadError({ file: version.key, reason: wrong });
  }
  return all;
}

/**
 * Rows are atomic only within a statement, so the statements at once write to a staging table; and a
 * unique column could make them wait on each other's rows, so such datasets load in one statement.
 */
function inParallel({ db, dataset, version, options }: LoadJob): boolean {
  return (
    dataset.format === 'csv' &&
    db.parallelCopies > 1 &&
    !dataset.columns.some((c) => c.unique) &&
    version.size >= (options.parallelThresholdBytes ?? 16 << 20)
  );
}

function loadInOneStatement(job: LoadJob, source: AsyncIterable<Buffer>): Promise<LoadResult> {
  const { db, dataset, version, table, options, progress } = job;
  return db.transaction(async () => {
    await db.exec(createTableSQL(dataset, table));
    const target = qualified(DATASETS_SCHEMA, table);
    const rows =
      dataset.format === 'csv'
        ? (await copyCsv({ ...job, target, source, onRows: progress.onRows })).rows
        : await copyGeoJson(db, dataset, version, target, source, options, progress.onRows);
    return finishLoad(job, { rows, copies: 1 });
  });
}

async function loadInParallel(job: LoadJob, source: AsyncIterable<Buffer>): Promise<LoadResult> {
  const { db, dataset, version, table, progress } = job;
  // A short name of its own (identifiers stop at 63 bytes), renamed when it is moved into place.
  const staging = `load_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
  const stagingTable = qualified(LOADING_SCHEMA, staging);
  await db.exec(createTableSQL(dataset, staging, LOADING_SCHEMA));
  try {
    // What `strata gc` reads to tell a load killed midway from one still running.
    await db.exec(
      `COMMENT ON TABLE ${stagingTable} IS ${literal(JSON.stringify({ dataset: dataset.name, version: version.version, startedAt: new Date().toISOString() }))}`,
    );
    const copied = await copyCsv({
      ...job,
      target: stagingTable,
      source,
      onRows: progress.onRows,
      parallel: true,
    });
    return await db.transaction(async () => {
      await db.exec(`ALTER TABLE ${stagingTable} SET SCHEMA ${ident(DATASETS_SCHEMA)}`);
      await db.exec(`ALTER TABLE ${qualified(DATASETS_SCHEMA, staging)} RENAME TO ${ident(table)}`);
      return finishLoad(job, { rows: copied.rows, copies: copied.statements });
    });
  } catch (e) {
    // The transaction rolled back, so the table is still in the staging schema.
    await db.exec(`DROP TABLE IF EXISTS ${stagingTable}`).catch(() => {});
    throw e;
  }
}

/** `datasets.<name>` shows the current version, for people exploring with psql. */
export async function refreshCurrentView(db: Queryable, dataset: string): Promise<void> {
  const current = await currentLoaded(db, dataset);
  if (!current?.table) return;
  const view = qualified(DATASETS_SCHEMA, dataset);
  await db.exec(
    `DROP VIEW IF EXISTS ${view}; CREATE VIEW ${view} AS SELECT * FROM ${qualified(DATASETS_SCHEMA, current.table)}`,
  );
}

/**
 * Makes a version the dataset's current one (runtime/archive/current.ts records the move) and points the
 * `datasets.<name>` view at it, in one transaction of its own or the caller's.
 */
export function makeCurrent(
  db: Database,
  store: ObjectStore,
  move: Parameters<typeof moveCurrent>[2],
): ReturnType<typeof moveCurrent> {
  return db.transaction(async () => {
    const moved = await moveCurrent(db, store, move);
    if (moved.changed) await refreshCurrentView(db, move.dataset);
    return moved;
  });
}

function headerProblem(version: DatasetVersion, reason: string, column?: string): LoadError {
  return new LoadError({ file: version.key, line: 1, column, reason });
}

/**
 * Every column the header has that the catalog does not, and every one it lacks, in one message: a renamed
 * header shows as both, and the rename it most likely is is named.
 */
function headerMismatch(dataset: Dataset, undeclared: readonly string[], missing: readonly string[]): string {
  const quoted = (names: readonly string[]) => names.map((n) => `"${n}"`).join(', ');
  const parts: string[] = [];
  if (undeclared.length > 0)
    parts.push(
      `column${undeclared.length > 1 ? 's' : ''} ${quoted(undeclared)} ${undeclared.length > 1 ? 'are' : 'is'} not declared in the catalog (datasets/${dataset.name}.yaml)`,
    );
  if (missing.length > 0) {
    const renames = missing.flatMap((m) => {
      const to = undeclared.length === 1 && missing.length === 1 ? undeclared[0] : closest(m, undeclared);
      return to === undefined ? [] : [`"${m}" renamed to "${to}"?`];
    });
    parts.push(
      `missing column${missing.length > 1 ? 's' : ''} ${quoted(missing)}${renames.length > 0 ? ` (${renames.join(', ')})` : ''}`,
    );
  }
  return parts.join('; ');
}

/** A CSV's rows to COPY into `target`: in one statement, or with `parallel`, in several at once where the database can. */
interface CsvCopy {
  readonly db: Database;
  readonly store: ObjectStore;
  readonly dataset: Dataset;
  readonly version: DatasetVersion;
  readonly target: string;
  readonly source: AsyncIterable<Buffer>;
  readonly options: LoadOptions;
  readonly onRows: (n: number) => void;
  readonly parallel?: boolean;
}

/** Rows copied, and how many COPY statements ran at once. */
async function copyCsv(c: CsvCopy): Promise<{ rows: number; statements: number }> {
  const { db, store, dataset, version, target, source, options, onRows } = c;
  const delimiter = dataset.csv.delimiter;
  const chunks = recordChunks(source, {
    targetBytes: options.chunkBytes,
    maxRecordBytes: options.maxRecordBytes,
  });
  const tooLarge = async (e: unknown): Promise<never> => {
    if (e instanceof RecordTooLargeError) {
      const line = await lineOfRecord(await store.get('archive', version.key), e.record);
      throw new LoadError({
        file: version.key,
        line,
        reason: e.message.replace(/^record \d+/, 'the record'),
      });
    }
    throw e;
  };
  const first = await chunks.next().catch(tooLarge);
  if (first.done)
    throw new LoadError({ file: version.key, reason: 'the file is empty: expected a header row' });

  const headerLines = Math.max(1, first.value.data.toString('latin1').split('\n').length - 1);
  let names: string[];
  try {
    const text = first.value.data.toString('utf8').replace(/^\uFEFF/, '');
    names = (parseCsv(text, { delimiter, relax_column_count: true }) as string[][])[0] ?? [];
  } catch (e) {
    throw headerProblem(version, `the header row is not valid CSV: ${(e as Error).message}`);
  }
  const bySource = new Map<string, Column>(dataset.columns.map((c) => [sourceName(c), c]));
  const seen = new Set<string>();
  const columns: Column[] = [];
  const undeclared: string[] = [];
  for (const name of names) {
    const column = bySource.get(name.trim());
    if (!column) {
      undeclared.push(name);
      continue;
    }
    if (seen.has(column.name))
      throw headerProblem(version, `column "${name}" appears twice in the header`, name);
    seen.add(column.name);
    columns.push(column);
  }
  const missing = dataset.columns.filter((c) => !seen.has(c.name)).map(sourceName);
  if (undeclared.length > 0 || missing.length > 0)
    throw headerProblem(version, headerMismatch(dataset, undeclared, missing), undeclared[0] ?? missing[0]);

  async function* body(): AsyncGenerator<CopyChunk> {
    for await (const chunk of chunks) {
      yield chunk;
      onRows(chunk.rows);
    }
  }
  const list = columns.map((c) => ident(c.name)).join(', ');
  // The adapter says how many statements it ran.
  const copy = { parallel: c.parallel ?? false, statements: 1 };
  try {
    const rows = await db.copyFrom(
      `${target} (${list})`,
      `WITH (FORMAT csv, HEADER true, DELIMITER ${delimiter === "'" ? "''''" : `'${delimiter}'`})`,
      body(),
      first.value.data,
      copy,
    );
    return { rows, statements: copy.statements };
  } catch (e) {
    if (e instanceof RecordTooLargeError) return tooLarge(e);
    if (!(e instanceof CopyRejectedError) || e.line === undefined) throw e;
    throw rejection(dataset, version, e, { line: e.line + headerLines - 1 });
  }
}

/** Turns PostgreSQL's refusal into the catalog's terms: the source column name and a plain reason. */
function rejection(
  dataset: Dataset,
  version: DatasetVersion,
  e: CopyRejectedError,
  at: { line?: number; feature?: number; layer?: string },
): LoadError {
  const explained = e.constraint ? explainConstraint(dataset, e.constraint) : undefined;
  let columnName = explained?.column ?? e.column;
  let reason = explained?.reason ?? e.message;
  if (e.sqlState === '23502') reason = 'a value is required here but the field is empty';
  if (e.sqlState === '23505') reason = `duplicate value: ${e.message}`;
  if (!columnName && /geometry|parse error/i.test(e.message)) {
    const g = dataset.geometry;
    columnName = g.kind === 'wkt' ? g.column : g.kind === 'geojson' ? 'geometry' : undefined;
  }
  if (columnName === 'geom' && dataset.geometry.kind === 'geojson') columnName = 'geometry';
  const column = dataset.columns.find((c) => c.name === columnName);
  reason = reason.replace(/ of relation "[^"]+"/, '');
  return new LoadError({
    file: version.key,
    ...at,
    column: column ? sourceName(column) : columnName,
    reason,
  });
}

async function copyGeoJson(
  db: Database,
  dataset: Dataset,
  version: DatasetVersion,
  target: string,
  source: AsyncIterable<Buffer>,
  options: LoadOptions,
  onRows: (n: number) => void,
): Promise<number> {
  const g = dataset.geometry;
  const withGeometry = g.kind === 'geojson';
  const columns = dataset.columns;
  const spec: RowSpec = {
    types: columns.map((c) => c.type),
    keys: columns.map(sourceName),
    srid: g.kind === 'geojson' ? (g.sourceSrid ?? GEOJSON_SRID) : GEOJSON_SRID,
    withGeometry,
  };
  // A large file's rows are made on a second core while this thread cuts features and feeds COPY.
  const onWorker = version.size >= (options.workerThresholdBytes ?? 16 << 20);

  async function* rows(): AsyncGenerator<CopyChunk> {
    try {
      const features = featureTexts(source);
      const chunks = onWorker
        ? rowsOnWorker(features, spec)
        : rowsInline(features, spec, options.chunkBytes ?? 4 << 20);
      for await (const chunk of chunks) {
        yield chunk;
        onRows(chunk.rows);
      }
    } catch (e) {
      if (e instanceof GeoJsonStructureError)
        throw new LoadError({ file: version.key, feature: e.feature, reason: e.message });
      if (e instanceof FeatureProblemError) {
        const { feature, column, reason } = e.problem;
        throw new LoadError({ file: version.key, ...(feature >= 0 ? { feature } : {}), column, reason });
      }
      throw e;
    }
  }

  const list = [...columns.map((c) => ident(c.name)), ...(withGeometry ? ['geom'] : [])].join(', ');
  try {
    return await db.copyFrom(`${target} (${list})`, '', rows());
  } catch (e) {
    if (!(e instanceof CopyRejectedError) || e.line === undefined) throw e;
    // COPY text format escapes newlines, so each feature is one line.
    throw rejection(dataset, version, e, { feature: e.line - 1 });
  }
}

/** COPY of a layer's rows as ogr2ogr writes them; a refused row is told back as the layer's feature. */
async function copyGdal(
  db: Database,
  layer: GdalLayer,
  version: DatasetVersion,
  target: string,
  options: LoadOptions,
  onRows: (n: number) => void,
): Promise<number> {
  async function* rows(): AsyncGenerator<CopyChunk> {
    for await (const chunk of gdalRows(layer, options.chunkBytes)) {
      yield chunk;
      onRows(chunk.rows);
    }
  }
  try {
    return await db.copyFrom(`${target} (${gdalColumns(layer).map(ident).join(', ')})`, '', rows());
  } catch (e) {
    if (e instanceof CopyRejectedError && e.line !== undefined)
      throw rejection(layer.dataset, version, e, { layer: layer.layer.name, feature: e.line - 1 });
    if (e instanceof GdalFailedError)
      throw new LoadError({
        file: version.key,
        layer: layer.layer.name,
        reason: `GDAL could not read the layer: ${e.errors.join('; ') || e.message}`,
      });
    throw e;
  }
}
