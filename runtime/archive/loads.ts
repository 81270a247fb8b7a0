import type { DatabaseIdentity } from '../db/identity.ts';
import { databaseIdentity } from '../db/identity.ts';
import {
  currentKey,
  datasetPrefix,
  loadRecordKey,
  loadRecordStart,
  METADATA,
  versionFolderOf,
} from '../layout/buckets.ts';
import type { Queryable } from '../ports/database.ts';
import { ObjectExistsError, type ObjectStore, readJson } from '../ports/object-store.ts';
import { type DatasetVersion, listVersions, type VersionRow } from './archive.ts';
import type { CurrentPointer } from './current.ts';

/**
 * `datasets/<name>/<version>/loads/<system identifier>-<database>.json`: written once, after a version's load
 * committed, by the database that loaded it. With `metadata.json` beside it, it answers `strata versions`
 * without opening that database (see `archivedVersionRows`); the database stays the authority, and a
 * version with no record of the database asked about sends the reader to it.
 */
export interface LoadRecord {
  readonly dataset: string;
  readonly version: string;
  readonly table: string;
  readonly rows: number;
  /** As the database records it (`loaded_at`), so a read from either place prints the same. */
  readonly loadedAt: string;
  readonly database: DatabaseIdentity;
}

/**
 * Records in the archive that `db` has loaded a version, as the database itself says it (table, rows, time),
 * unless that record is there already. Nothing is recorded for a version the database has not loaded.
 */
export async function recordLoad(
  db: Queryable,
  store: ObjectStore,
  dataset: string,
  version: string,
): Promise<LoadRecord | undefined> {
  const [row] = await listVersions(db, dataset, version);
  if (!row?.loadedAt || !row.table || row.rowCount === null) return undefined;
  const identity = await databaseIdentity(db);
  const key = loadRecordKey(dataset, version, identity);
  const record: LoadRecord = {
    dataset,
    version,
    table: row.table,
    rows: row.rowCount,
    loadedAt: row.loadedAt,
    database: identity,
  };
  if (await store.exists('archive', key)) return record;
  try {
    await store.put('archive', key, `${JSON.stringify(record, null, 2)}\n`, {
      contentType: 'application/json',
    });
  } catch (e) {
    // Another process recorded the same load at the same moment: its record says the same.
    if (!(e instanceof ObjectExistsError)) throw e;
  }
  return record;
}

/**
 * A dataset's versions as `listVersions` gives them, read from the archive alone: each complete version's
 * `metadata.json` and the load record of the database whose system identifier is given. Undefined when the
 * archive cannot say: a version that database has no record of (never loaded there, loaded before records
 * were kept, or its load still running) is for the database to describe.
 */
export async function archivedVersionRows(
  store: ObjectStore,
  dataset: string,
  systemIdentifier: string,
): Promise<VersionRow[] | undefined> {
  const folders = new Map<string, { metadata?: string; load?: string }>();
  for (const o of await store.list('archive', datasetPrefix(dataset))) {
    const at = versionFolderOf(dataset, o.key);
    if (!at) continue;
    const { version, file } = at;
    const folder = folders.get(version) ?? {};
    if (file === METADATA) folder.metadata = o.key;
    else if (file.startsWith(loadRecordStart(systemIdentifier))) folder.load = o.key;
    folders.set(version, folder);
  }
  const complete = [...folders.values()].filter((f) => f.metadata);
  if (complete.some((f) => !f.load)) return undefined;
  // The current version as the archive's pointer says; for data from before there was one, the newest
  // loaded version (as the database's view of the current version has it).
  const pointer = (await store.exists('archive', currentKey(dataset)))
    ? await readJson<CurrentPointer>(store, 'archive', currentKey(dataset))
    : undefined;
  const rows = await Promise.all(
    complete.map(async (f) => {
      const [meta, load] = await Promise.all([
        readJson<DatasetVersion>(store, 'archive', f.metadata!),
        readJson<LoadRecord>(store, 'archive', f.load!),
      ]);
      const row: VersionRow = {
        dataset: meta.dataset,
        version: meta.version,
        sha256: meta.sha256,
        size: meta.size,
        filename: meta.filename,
        origin: meta.origin,
        receivedAt: meta.receivedAt,
        key: meta.key,
        loadedAt: load.loadedAt,
        rowCount: load.rows,
        table: load.table,
        current: pointer?.version === meta.version,
      };
      return row;
    }),
  );
  const sorted = rows.sort((a, b) => (a.version < b.version ? 1 : a.version > b.version ? -1 : 0));
  if (!pointer && sorted[0]) return [{ ...sorted[0], current: true }, ...sorted.slice(1)];
  return sorted;
}
