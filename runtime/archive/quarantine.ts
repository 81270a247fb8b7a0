import { ConflictError, NotFoundError } from '../errors.ts';
import {
  latestJudgedKey,
  quarantineDatasetPrefix,
  quarantineEntryOf,
  quarantineJudgedKey,
  quarantineMetadataKey,
  quarantineReceiptKey,
  quarantineReleaseKey,
} from '../layout/buckets.ts';
import type { Queryable } from '../ports/database.ts';
import { ObjectExistsError, type ObjectStore, readJson } from '../ports/object-store.ts';
import { timestamp } from '../util/ids.ts';
import type { DatasetVersion } from './archive.ts';
import type { Actor } from './current.ts';
import type { Receipt } from './receipt.ts';

/**
 * Files a dataset's contract refused. Nothing received is ever lost: the bytes stay where they were
 * received (`datasets/<name>/<id>/<file>`, with no `metadata.json` beside them, so no listing takes
 * them for a version), and `quarantine/<name>/<id>/` holds `metadata.json` (where the bytes are, who sent
 * them, when) and `receipt.json` (every problem). An operator's release adds `release.json` and makes the
 * file the version `<id>`. The database indexes these and is filled again from them when rebuilt.
 */

/** `quarantine/<dataset>/<id>/metadata.json`. */
export interface QuarantineRecord {
  readonly dataset: string;
  /** The version id the file was given when received, and becomes when released. */
  readonly id: string;
  /** The bytes as received. */
  readonly file: DatasetVersion;
  readonly quarantinedAt: string;
  readonly run?: string;
  readonly actor: Actor;
}

/** `quarantine/<dataset>/<id>/release.json`: written once, by the release. */
export interface ReleaseRecord {
  readonly releasedAt: string;
  readonly actor: Actor;
  readonly reason: string;
  readonly run?: string;
  readonly version: string;
}

export interface QuarantineEntry extends QuarantineRecord {
  readonly receipt: Receipt;
  readonly release?: ReleaseRecord;
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** Writes an object once; a retry that finds it already written goes on. */
async function putOnce(store: ObjectStore, key: string, value: unknown): Promise<void> {
  try {
    await store.put('archive', key, json(value), { contentType: 'application/json' });
  } catch (e) {
    if (!(e instanceof ObjectExistsError)) throw e;
  }
}

async function index(db: Queryable, entry: QuarantineEntry): Promise<void> {
  const f = entry.file;
  await db.query(
    `INSERT INTO strata.quarantine (dataset, id, sha256, size, filename, archive_key, received_at, quarantined_at,
       run_id, actor, receipt, released_at, released_by, release_reason, release_run, origin)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12, $13::jsonb, $14, $15, $16::jsonb)
     ON CONFLICT (dataset, id) DO UPDATE SET released_at = EXCLUDED.released_at, released_by = EXCLUDED.released_by,
       release_reason = EXCLUDED.release_reason, release_run = EXCLUDED.release_run`,
    [
      entry.dataset,
      entry.id,
      f.sha256,
      f.size,
      f.filename,
      f.key,
      f.receivedAt,
      entry.quarantinedAt,
      entry.run ?? null,
      JSON.stringify(entry.actor),
      JSON.stringify(entry.receipt),
      entry.release?.releasedAt ?? null,
      entry.release ? JSON.stringify(entry.release.actor) : null,
      entry.release?.reason ?? null,
      entry.release?.run ?? null,
      JSON.stringify(f.origin),
    ],
  );
}

/** Keeps a refused file in quarantine with its receipt. */
export async function quarantineFile(
  db: Queryable,
  store: ObjectStore,
  input: { file: DatasetVersion; receipt: Receipt; actor: Actor; run?: string },
): Promise<QuarantineEntry> {
  const record: QuarantineRecord = {
    dataset: input.file.dataset,
    id: input.file.version,
    file: input.file,
    quarantinedAt: new Date().toISOString(),
    ...(input.run ? { run: input.run } : {}),
    actor: input.actor,
  };
  await putOnce(store, quarantineReceiptKey(record.dataset, record.id), input.receipt);
  // Last: an entry is complete only with its metadata.
  await putOnce(store, quarantineMetadataKey(record.dataset, record.id), record);
  const entry = { ...record, receipt: input.receipt };
  await index(db, entry);
  return entry;
}

/**
 * A file in quarantine judged again under a changed contract, and refused again: that judgement's receipt is
 * kept beside the first (written once, under its time) and becomes the entry's receipt in the index, so it
 * names the contract in force now and the same bytes sent under it are not judged a third time.
 */
export async function recordJudgedAgain(
  db: Queryable,
  store: ObjectStore,
  entry: { dataset: string; id: string },
  receipt: Receipt,
): Promise<void> {
  const at = timestamp(new Date(receipt.madeAt));
  await putOnce(store, quarantineJudgedKey(entry.dataset, entry.id, at), receipt);
  await db.query('UPDATE strata.quarantine SET receipt = $3::jsonb WHERE dataset = $1 AND id = $2', [
    entry.dataset,
    entry.id,
    JSON.stringify(receipt),
  ]);
}

interface Row {
  dataset: string;
  id: string;
  sha256: string;
  size: string | number;
  filename: string;
  origin: DatasetVersion['origin'] | string;
  archive_key: string;
  received_at: string;
  quarantined_at: string;
  run_id: string | null;
  actor: Actor | string;
  receipt: Receipt | string;
  released_at: string | null;
  released_by: Actor | string | null;
  release_reason: string | null;
  release_run: string | null;
}

const parsed = <T>(v: T | string): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);
const ISO = (c: string) => `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${c}`;
const COLUMNS = `dataset, id, sha256, size, filename, origin, archive_key, ${ISO('received_at')}, ${ISO('quarantined_at')},
  run_id, actor, receipt, ${ISO('released_at')}, released_by, release_reason, release_run`;

function toEntry(r: Row): QuarantineEntry {
  const receipt = parsed(r.receipt);
  return {
    dataset: r.dataset,
    id: r.id,
    file: {
      dataset: r.dataset,
      version: r.id,
      sha256: r.sha256,
      size: Number(r.size),
      filename: r.filename,
      origin: parsed(r.origin),
      receivedAt: r.received_at,
      key: r.archive_key,
    },
    quarantinedAt: r.quarantined_at,
    ...(r.run_id ? { run: r.run_id } : {}),
    actor: parsed(r.actor),
    receipt,
    ...(r.released_at
      ? {
          release: {
            releasedAt: r.released_at,
            actor: parsed(r.released_by ?? '{}'),
            reason: r.release_reason ?? '',
            ...(r.release_run ? { run: r.release_run } : {}),
            version: r.id,
          },
        }
      : {}),
  };
}

/**
 * Brings the database's index of the quarantine up to the archive's (after a rebuild, or a release done
 * elsewhere): one listing; only entries it does not know, or whose release it has missed, are read.
 */
export async function syncQuarantine(db: Queryable, store: ObjectStore, dataset?: string): Promise<void> {
  const objects = await store.list('archive', quarantineDatasetPrefix(dataset));
  const keys = new Set(objects.map((o) => o.key));
  const known = new Map(
    (
      await db.query<{ dataset: string; id: string; released: boolean }>(
        `SELECT dataset, id, released_at IS NOT NULL AS released FROM strata.quarantine WHERE $1::text IS NULL OR dataset = $1`,
        [dataset ?? null],
      )
    ).map((r) => [`${r.dataset}/${r.id}`, r.released]),
  );
  for (const o of objects) {
    const at = quarantineEntryOf(o.key);
    if (!at) continue;
    const released = keys.has(quarantineReleaseKey(at.dataset, at.id));
    const seen = known.get(`${at.dataset}/${at.id}`);
    if (seen !== undefined && (seen || !released)) continue;
    const record = await readJson<QuarantineRecord>(store, 'archive', o.key);
    // The receipt of the latest judgement, if the file was judged again under a changed contract.
    const receiptKey = latestJudgedKey(at.dataset, at.id, keys) ?? quarantineReceiptKey(at.dataset, at.id);
    const receipt = await readJson<Receipt>(store, 'archive', receiptKey);
    const release = released
      ? await readJson<ReleaseRecord>(store, 'archive', quarantineReleaseKey(at.dataset, at.id))
      : undefined;
    await index(db, { ...record, receipt, ...(release ? { release } : {}) });
  }
}

/** A file of `dataset` with these bytes, in quarantine and not released. */
export async function findQuarantinedBySha(
  db: Queryable,
  store: ObjectStore,
  dataset: string,
  sha256: string,
): Promise<QuarantineEntry | undefined> {
  const find = async () =>
    (
      await db.query<Row>(
        `SELECT ${COLUMNS} FROM strata.quarantine WHERE dataset = $1 AND sha256 = $2 AND released_at IS NULL`,
        [dataset, sha256],
      )
    ).map(toEntry)[0];
  return (await find()) ?? (await syncQuarantine(db, store, dataset).then(find));
}

export async function listQuarantine(
  db: Queryable,
  filter: { dataset?: string; released?: boolean } = {},
): Promise<QuarantineEntry[]> {
  const rows = await db.query<Row>(
    `SELECT ${COLUMNS} FROM strata.quarantine
     WHERE ($1::text IS NULL OR dataset = $1) AND ($2::boolean IS NULL OR (released_at IS NOT NULL) = $2)
     ORDER BY quarantined_at DESC, id DESC`,
    [filter.dataset ?? null, filter.released ?? null],
  );
  return rows.map(toEntry);
}

/** An entry by `<id>` or `<dataset>/<id>`. */
export async function getQuarantined(db: Queryable, ref: string): Promise<QuarantineEntry> {
  const [dataset, id] = ref.includes('/') ? ref.split('/', 2) : [undefined, ref];
  const rows = await db.query<Row>(
    `SELECT ${COLUMNS} FROM strata.quarantine WHERE id = $1 AND ($2::text IS NULL OR dataset = $2)`,
    [id, dataset ?? null],
  );
  if (rows.length === 0)
    throw new NotFoundError(`no file "${ref}" in quarantine (see: strata quarantine list --all)`);
  if (rows.length > 1)
    throw new ConflictError(
      `"${ref}" is in quarantine for several datasets; name one: ${rows.map((r) => `${r.dataset}/${r.id}`).join(', ')}`,
    );
  return toEntry(rows[0]!);
}

/** Records a release: `release.json` in the archive (once), and the index. In the release's transaction. */
export async function recordRelease(
  db: Queryable,
  store: ObjectStore,
  entry: QuarantineEntry,
  release: ReleaseRecord,
): Promise<void> {
  const key = quarantineReleaseKey(entry.dataset, entry.id);
  try {
    await store.put('archive', key, json(release), { contentType: 'application/json' });
  } catch (e) {
    if (!(e instanceof ObjectExistsError)) throw e;
    // Written once. By this run before (a retry), it stands; by another run (two releases of one file at
    // once, from two tabs or two operators), that one won: this one fails inside its load's transaction,
    // so it moves nothing.
    const first = await readJson<ReleaseRecord>(store, 'archive', key);
    if (first.run !== release.run)
      throw new ConflictError(
        `${entry.dataset}/${entry.id} was released by run ${first.run} already: it is version ${first.version}`,
      );
    await index(db, { ...entry, release: first });
    return;
  }
  await index(db, { ...entry, release });
}
