import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { LoadError } from '../errors.ts';
import type { Database, Queryable } from '../ports/database.ts';
import { type ObjectStore, readJson } from '../ports/object-store.ts';
import { measured, newMeasure, sha256Of } from '../util/hash.ts';
import { datasetVersionId } from '../util/ids.ts';

export interface Origin {
  readonly kind: 'file' | 'upload' | 'http' | 'partner' | 'demo';
  /** The path, URL or key the bytes came from. */
  readonly from: string;
  readonly [extra: string]: unknown;
}

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

export const datasetPrefix = (dataset: string) => `datasets/${dataset}/`;
export const versionPrefix = (dataset: string, version: string) => `datasets/${dataset}/${version}/`;

export const sha256File = (path: string) => sha256Of(createReadStream(path, { highWaterMark: 1 << 20 }));

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

async function register(db: Database, v: DatasetVersion): Promise<void> {
  await db.query(
    `INSERT INTO strata.dataset_versions (dataset, version, sha256, size, filename, origin, received_at, archive_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
    [v.dataset, v.version, v.sha256, v.size, v.filename, JSON.stringify(v.origin), v.receivedAt, v.key],
  );
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
  const suffix = sha256 ? `-${sha256.slice(0, 8)}/metadata.json` : '/metadata.json';
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

export interface ArchiveResult {
  readonly version: DatasetVersion;
  /** False when the same bytes were already archived: no new version was made. */
  readonly created: boolean;
}

/**
 * Copies a file into the archive bucket as a new immutable dataset version, unless the same bytes are
 * already there. The bytes are hashed again on the way in, so a file that changes while it is being read
 * fails rather than archiving something other than what its metadata says.
 */
export async function archiveFile(
  db: Database,
  store: ObjectStore,
  input: { dataset: string; path: string; filename?: string; origin: Origin; maxBytes?: number },
): Promise<ArchiveResult> {
  const { sha256, size } = await sha256File(input.path);
  const filename = safeFilename(input.filename ?? input.path);
  if (size === 0) throw new LoadError({ file: input.path, reason: 'the file is empty' });
  if (input.maxBytes !== undefined && size > input.maxBytes)
    throw new LoadError({
      file: input.path,
      reason: `the file is ${size} bytes, over the dataset's limit of ${input.maxBytes}`,
    });

  const existing = await findVersionBySha(db, store, input.dataset, sha256);
  if (existing) return { version: existing, created: false };

  const receivedAt = new Date();
  const version = datasetVersionId(receivedAt, sha256);
  const key = `${versionPrefix(input.dataset, version)}${filename}`;
  // Hashed again as it is copied: the bytes archived are the bytes hashed, even if the file changes meanwhile.
  const copied = newMeasure();
  const bytes = measured(createReadStream(input.path, { highWaterMark: 1 << 20 }), copied);
  await store.put('archive', key, bytes, { contentType: contentTypeOf(filename) });
  if (copied.hash.digest('hex') !== sha256)
    throw new LoadError({
      file: input.path,
      reason: 'the file changed while it was being archived; send it again',
    });

  const meta: DatasetVersion = {
    dataset: input.dataset,
    version,
    sha256,
    size,
    filename,
    origin: input.origin,
    receivedAt: receivedAt.toISOString(),
    key,
  };
  await store.put(
    'archive',
    `${versionPrefix(input.dataset, version)}metadata.json`,
    JSON.stringify(meta, null, 2),
    {
      contentType: 'application/json',
    },
  );
  await register(db, meta);
  return { version: meta, created: true };
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
}

/** A dataset's registered versions, newest first; with `version`, that one alone. */
export async function listVersions(db: Queryable, dataset: string, version?: string): Promise<VersionRow[]> {
  const rows = await db.query<
    Parameters<typeof rowToVersion>[0] & {
      loaded_at: string | null;
      row_count: string | null;
      loaded_table: string | null;
    }
  >(
    `SELECT ${VERSION_COLUMNS}, loaded_table, row_count,
       to_char(loaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS loaded_at
     FROM strata.dataset_versions WHERE dataset = $1 AND ($2::text IS NULL OR version = $2) ORDER BY version DESC`,
    [dataset, version ?? null],
  );
  return rows.map((r) => ({
    ...rowToVersion(r),
    loadedAt: r.loaded_at,
    rowCount: r.row_count === null ? null : Number(r.row_count),
    table: r.loaded_table,
  }));
}

/** Whether `path` names a regular file. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
