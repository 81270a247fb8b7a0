import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { LoadError } from '../errors.ts';
import {
  datasetPrefix,
  metadataKey,
  metadataSuffix,
  receivedKey,
  versionFileKey,
} from '../layout/buckets.ts';
import type { Database, Queryable } from '../ports/database.ts';
import { ObjectExistsError, type ObjectStore, readJson } from '../ports/object-store.ts';
import { NotPlainFileError, openPlainFile } from '../util/files.ts';
import { measured, newMeasure, sha256Of } from '../util/hash.ts';
import { datasetVersionId, VERSION_ID } from '../util/ids.ts';

export interface Origin {
  readonly kind: 'file' | 'upload' | 'http' | 'partner' | 'demo';
  /** The path, URL or key the bytes came from. */
  readonly from: string;
  readonly [extra: string]: unknown;
}

/**
 * The archive of dataset versions, and the one module that writes SQL on its index in the database:
 * `strata.dataset_versions` (what was received, and where and how it was loaded) and the view
 * `strata.dataset_current` (which version `latest` reads; its moves are runtime/archive/current.ts's).
 */

/** `datasets/<name>/<version>/metadata.json`: written last, so a version without it is incomplete. */
export interface DatasetVersion {
  readonly dataset: string;
  readonly version: string;
  readonly sha256: string;
  readonly size: number;
  readonly filename: string;
  readonly origin: Origin;
  readonly receivedAt: string;
  /** Key of the bytes in the archive bucket. */
  readonly key: string;
}

/** Keeps letters, digits, dot, dash and underscore, so a file name is a safe object key segment. */
export function safeFilename(name: string): string {
  const cleaned = basename(name)
    .replace(/[^\w.-]+/g, '_')
    .replace(/^\.+/, '');
  return cleaned.length > 0 ? cleaned.slice(-120) : 'data';
}

function rowToVersion(r: {
  dataset: string;
  version: string;
  sha256: string;
  size: string | number;
  filename: string;
  origin: Origin;
  received_at: string;
  archive_key: string;
}): DatasetVersion {
  return {
    dataset: r.dataset,
    version: r.version,
    sha256: r.sha256,
    size: Number(r.size),
    filename: r.filename,
    origin: r.origin,
    receivedAt: r.received_at,
    key: r.archive_key,
  };
}

const VERSION_COLUMNS = `dataset, version, sha256, size, filename, origin,
  to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS received_at, archive_key`;

async function register(db: Queryable, v: DatasetVersion): Promise<void> {
  await registerArchivedVersion(db, v);
}

/** Registers a version the archive holds (a database rebuild); true when the database did not know it. */
export async function registerArchivedVersion(db: Queryable, v: DatasetVersion): Promise<boolean> {
  const rows = await db.query(
    `INSERT INTO strata.dataset_versions (dataset, version, sha256, size, filename, origin, received_at, archive_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING version`,
    [v.dataset, v.version, v.sha256, v.size, v.filename, JSON.stringify(v.origin), v.receivedAt, v.key],
  );
  return rows.length > 0;
}

/**
 * Complete versions found in the archive itself, whatever the database knows; with `sha256`, only those
 * whose version id ends with its short hash are read (one listing, not a read per version).
 */
export async function archivedVersions(
  store: ObjectStore,
  dataset: string,
  sha256?: string,
): Promise<DatasetVersion[]> {
  const suffix = metadataSuffix(sha256);
  const objects = await store.list('archive', datasetPrefix(dataset));
  const metas = objects.filter((o) => o.key.endsWith(suffix));
  return Promise.all(metas.map((m) => readJson<DatasetVersion>(store, 'archive', m.key)));
}

export async function findVersionBySha(
  db: Database,
  store: ObjectStore,
  dataset: string,
  sha256: string,
): Promise<DatasetVersion | undefined> {
  const rows = await db.query<Parameters<typeof rowToVersion>[0]>(
    `SELECT ${VERSION_COLUMNS} FROM strata.dataset_versions WHERE dataset = $1 AND sha256 = $2`,
    [dataset, sha256],
  );
  if (rows[0]) return rowToVersion(rows[0]);
  // The archive outlives any database: a version it holds is found even after the database is rebuilt.
  const archived = (await archivedVersions(store, dataset, sha256)).find((v) => v.sha256 === sha256);
  if (archived) await register(db, archived);
  return archived;
}

/** A version by its id: registered, or found in the archive (and registered again) after a database rebuild. */
export async function findVersion(
  db: Database,
  store: ObjectStore,
  dataset: string,
  version: string,
): Promise<DatasetVersion | undefined> {
  const rows = await db.query<Parameters<typeof rowToVersion>[0]>(
    `SELECT ${VERSION_COLUMNS} FROM strata.dataset_versions WHERE dataset = $1 AND version = $2`,
    [dataset, version],
  );
  if (rows[0]) return rowToVersion(rows[0]);
  if (!VERSION_ID.test(version) || !(await store.exists('archive', metadataKey(dataset, version))))
    return undefined;
  const archived = await readJson<DatasetVersion>(store, 'archive', metadataKey(dataset, version));
  await register(db, archived);
  return archived;
}

export interface ArchiveResult {
  readonly version: DatasetVersion;
  /** False when the same bytes were already archived: no new version was made. */
  readonly created: boolean;
}

/**
 * What became of a file received: `new` bytes are in the archive but not yet a version (no `metadata.json`
 * beside them) until its load passes the dataset's contract; `version` bytes are an
 * existing version's; `quarantined` bytes were refused before and are kept in quarantine.
 */
export interface Received {
  readonly version: DatasetVersion;
  readonly state: 'new' | 'version' | 'quarantined';
  /** False when the bytes were already in the archive (a version, a quarantined file, or a receipt that was never finished). */
  readonly copied: boolean;
}

/**
 * Bytes received before whose load never finished (the task was killed, the database went away): taken up
 * again rather than copied a second time.
 */
async function findReceivedBySha(
  store: ObjectStore,
  dataset: string,
  sha256: string,
): Promise<DatasetVersion | undefined> {
  if (!(await store.exists('archive', receivedKey(dataset, sha256)))) return undefined;
  return readJson<DatasetVersion>(store, 'archive', receivedKey(dataset, sha256));
}

type ReceiveInput = { dataset: string; path: string; filename?: string; origin: Origin; maxBytes?: number };

/**
 * Copies a file into the archive bucket, unless the same bytes are already there, without making it a
 * version: that is `completeVersion`, once its load has passed the dataset's contract. The bytes are hashed
 * again on the way in, so a file that changes while it is being read fails rather than archiving something
 * other than what its metadata says. `quarantined` finds the bytes among files refused before.
 */
export async function receiveFile(
  db: Database,
  store: ObjectStore,
  input: ReceiveInput,
  quarantined?: (sha256: string) => Promise<DatasetVersion | undefined>,
): Promise<Received> {
  // One handle, opened without following a link: only a regular file is read, and what is hashed and
  // copied is that file, even if its name is pointed elsewhere meanwhile.
  const { fh } = await openToReceive(input.path);
  let meta: DatasetVersion;
  try {
    const read = () => fh.createReadStream({ start: 0, autoClose: false, highWaterMark: 1 << 20 });
    const { sha256, size } = await sha256Of(read());
    checkSize(input, size);
    const before = await receivedBefore(db, store, input.dataset, sha256, quarantined);
    if (before) return before;
    meta = await copyIn(store, input, read, { sha256, size });
  } finally {
    await fh.close();
  }
  return recordReceived(store, meta);
}

async function openToReceive(path: string): ReturnType<typeof openPlainFile> {
  try {
    return await openPlainFile(path);
  } catch (e) {
    if (e instanceof NotPlainFileError) throw new LoadError({ file: path, reason: e.reason });
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new LoadError({
        file: path,
        reason: 'the file is not there (moved or deleted before it was read)',
      });
    throw e;
  }
}

function checkSize(input: ReceiveInput, size: number): void {
  if (size === 0) throw new LoadError({ file: input.path, reason: 'the file is empty' });
  if (input.maxBytes !== undefined && size > input.maxBytes)
    throw new LoadError({
      file: input.path,
      reason: `the file is ${size} bytes, over the dataset's limit of ${input.maxBytes}`,
    });
}

/** The same bytes received before: a version, a file in quarantine, or a receipt that was never finished. */
async function receivedBefore(
  db: Database,
  store: ObjectStore,
  dataset: string,
  sha256: string,
  quarantined?: (sha256: string) => Promise<DatasetVersion | undefined>,
): Promise<Received | undefined> {
  const existing = await findVersionBySha(db, store, dataset, sha256);
  if (existing) return { version: existing, state: 'version', copied: false };
  const refused = await quarantined?.(sha256);
  if (refused) return { version: refused, state: 'quarantined', copied: false };
  const pending = await findReceivedBySha(store, dataset, sha256);
  if (pending) return { version: pending, state: 'new', copied: false };
  return undefined;
}

/** Copies the bytes under a new version id; hashed again as they go, so what is archived is what was hashed. */
async function copyIn(
  store: ObjectStore,
  input: ReceiveInput,
  read: () => AsyncIterable<Uint8Array>,
  hashed: { sha256: string; size: number },
): Promise<DatasetVersion> {
  const { sha256, size } = hashed;
  const filename = safeFilename(input.filename ?? input.path);
  const receivedAt = new Date();
  const version = datasetVersionId(receivedAt, sha256);
  const key = versionFileKey(input.dataset, version, filename);
  const copied = newMeasure();
  await store.put('archive', key, measured(read(), copied), { contentType: contentTypeOf(filename) });
  if (copied.hash.digest('hex') !== sha256 || copied.size !== size)
    throw new LoadError({
      file: input.path,
      reason: 'the file changed while it was being archived; send it again',
    });
  return {
    dataset: input.dataset,
    version,
    sha256,
    size,
    filename,
    origin: input.origin,
    receivedAt: receivedAt.toISOString(),
    key,
  };
}

/** Records the bytes as received (by hash), unless another run received the same bytes at the same moment. */
async function recordReceived(store: ObjectStore, meta: DatasetVersion): Promise<Received> {
  const key = receivedKey(meta.dataset, meta.sha256);
  try {
    await store.put('archive', key, JSON.stringify(meta, null, 2), { contentType: 'application/json' });
  } catch (e) {
    if (!(e instanceof ObjectExistsError)) throw e;
    // The same bytes, received at the same moment by another run: one copy becomes the version, and this
    // one stays behind unused (nothing is deleted from the archive).
    return { version: await readJson<DatasetVersion>(store, 'archive', key), state: 'new', copied: false };
  }
  return { version: meta, state: 'new', copied: true };
}

/**
 * Makes received bytes a dataset version: `metadata.json` (what every listing of versions looks for) and
 * the database's row. Idempotent: a version completed before is left as it is.
 */
export async function completeVersion(db: Queryable, store: ObjectStore, v: DatasetVersion): Promise<void> {
  try {
    await store.put('archive', metadataKey(v.dataset, v.version), JSON.stringify(v, null, 2), {
      contentType: 'application/json',
    });
  } catch (e) {
    if (!(e instanceof ObjectExistsError)) throw e;
  }
  await register(db, v);
}

/**
 * Copies a file into the archive bucket as a new immutable dataset version, unless the same bytes are
 * already there, with no contract between: what loading an archived version on its own needs (the
 * benchmark, tests). Ingest goes through `receiveFile`, the load and the contract, then `completeVersion`.
 */
export async function archiveFile(
  db: Database,
  store: ObjectStore,
  input: ReceiveInput,
): Promise<ArchiveResult> {
  const received = await receiveFile(db, store, input);
  if (received.state === 'version') return { version: received.version, created: false };
  await completeVersion(db, store, received.version);
  return { version: received.version, created: true };
}

export function contentTypeOf(filename: string): string {
  if (/\.csv$/i.test(filename)) return 'text/csv';
  if (/\.(geo)?json$/i.test(filename)) return 'application/geo+json';
  return 'application/octet-stream';
}

export interface VersionRow extends DatasetVersion {
  readonly loadedAt: string | null;
  readonly rowCount: number | null;
  readonly table: string | null;
  /** The version `latest` reads (runtime/archive/current.ts). */
  readonly current: boolean;
}

/** A dataset's registered versions, newest first; with `version`, that one alone. */
export async function listVersions(db: Queryable, dataset: string, version?: string): Promise<VersionRow[]> {
  const rows = await db.query<
    Parameters<typeof rowToVersion>[0] & {
      loaded_at: string | null;
      row_count: string | null;
      loaded_table: string | null;
      current: boolean;
    }
  >(
    `SELECT ${VERSION_COLUMNS}, loaded_table, row_count,
       to_char(loaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS loaded_at,
       EXISTS (SELECT 1 FROM strata.dataset_current c WHERE c.dataset = v.dataset AND c.version = v.version) AS current
     FROM strata.dataset_versions v WHERE dataset = $1 AND ($2::text IS NULL OR version = $2) ORDER BY version DESC`,
    [dataset, version ?? null],
  );
  return rows.map((r) => ({
    ...rowToVersion(r),
    loadedAt: r.loaded_at,
    rowCount: r.row_count === null ? null : Number(r.row_count),
    table: r.loaded_table,
    current: r.current,
  }));
}

/** A version's table and row count, once it is loaded in this database. */
export async function loadedVersion(
  db: Queryable,
  dataset: string,
  version: string,
): Promise<{ table: string; rows: number } | undefined> {
  const [row] = await db.query<{ loaded_table: string | null; row_count: string | null }>(
    'SELECT loaded_table, row_count::text AS row_count FROM strata.dataset_versions WHERE dataset = $1 AND version = $2',
    [dataset, version],
  );
  return row?.loaded_table ? { table: row.loaded_table, rows: Number(row.row_count) } : undefined;
}

/** Records that a version is loaded, as which table with how many rows; in the load's transaction. */
export async function recordLoaded(
  db: Queryable,
  dataset: string,
  version: string,
  loaded: { table: string; rows: number },
): Promise<void> {
  await db.query(
    'UPDATE strata.dataset_versions SET loaded_table = $3, loaded_at = now(), row_count = $4 WHERE dataset = $1 AND version = $2',
    [dataset, version, loaded.table, loaded.rows],
  );
}

/** The origin of the last version fetched from an HTTP source: its validators make the next GET conditional. */
export async function lastHttpOrigin(
  db: Queryable,
  dataset: string,
): Promise<{ etag?: string; lastModified?: string }> {
  const rows = await db.query<{ origin: { etag?: string; lastModified?: string } | string }>(
    `SELECT origin FROM strata.dataset_versions WHERE dataset = $1 AND origin->>'kind' = 'http' ORDER BY version DESC LIMIT 1`,
    [dataset],
  );
  const origin = rows[0]?.origin;
  return typeof origin === 'string' ? JSON.parse(origin) : (origin ?? {});
}

/** Every dataset the database holds versions of. */
export async function registeredDatasets(db: Queryable): Promise<string[]> {
  const rows = await db.query<{ dataset: string }>(
    'SELECT DISTINCT dataset FROM strata.dataset_versions ORDER BY dataset',
  );
  return rows.map((r) => r.dataset);
}

/** What the database says is current, if anything has ever been loaded. */
export async function currentVersion(
  db: Queryable,
  dataset: string,
): Promise<{ version: string; event: string | null } | undefined> {
  const [row] = await db.query<{ version: string; event_id: string | null }>(
    'SELECT version, event_id FROM strata.dataset_current WHERE dataset = $1',
    [dataset],
  );
  return row ? { version: row.version, event: row.event_id } : undefined;
}

/** The current version with its table and rows (null where it is not loaded in this database). */
export async function currentLoaded(
  db: Queryable,
  dataset: string,
): Promise<{ version: string; table: string | null; rows: number | null } | undefined> {
  const [row] = await db.query<{ version: string; row_count: string | null; loaded_table: string | null }>(
    `SELECT c.version, v.row_count::text AS row_count, v.loaded_table FROM strata.dataset_current c
     JOIN strata.dataset_versions v ON v.dataset = c.dataset AND v.version = c.version
     WHERE c.dataset = $1`,
    [dataset],
  );
  if (!row) return undefined;
  return {
    version: row.version,
    table: row.loaded_table,
    rows: row.row_count === null ? null : Number(row.row_count),
  };
}

/**
 * The version a product's input reads: `latest` is the dataset's current version, anything else a version
 * id. Undefined when there is none; `table` is null when it is archived but not loaded here.
 */
export async function resolveVersion(
  db: Queryable,
  dataset: string,
  requested: string,
): Promise<{ version: string; sha256: string; table: string | null; rows: number } | undefined> {
  const [row] = await db.query<{
    version: string;
    sha256: string;
    loaded_table: string | null;
    row_count: string | null;
  }>(
    `SELECT v.version, v.sha256, v.loaded_table, v.row_count::text AS row_count FROM strata.dataset_versions v
     WHERE v.dataset = $1 AND v.version = CASE WHEN $2::text = 'latest'
       THEN (SELECT c.version FROM strata.dataset_current c WHERE c.dataset = $1) ELSE $2 END`,
    [dataset, requested],
  );
  if (!row) return undefined;
  return { version: row.version, sha256: row.sha256, table: row.loaded_table, rows: Number(row.row_count) };
}

/** Whether `path` names a regular file. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
