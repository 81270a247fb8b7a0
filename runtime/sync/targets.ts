import { randomBytes } from 'node:crypto';
import { copyFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runGdal } from '../adapters/gdal/facade.ts';
import { PgDatabase } from '../adapters/postgres/pg-database.ts';

/**
 * Where `strata sync` keeps a partner's copy: a GeoPackage or a PostGIS table. GDAL (ogr2ogr) reads the
 * features the API sent, written as a GeoJSON sequence, into the target, and chooses the columns' types;
 * each change is then applied as SQL in the target, all or nothing. A small table, `strata_sync`, records
 * for each collection the version the copy has reached and its key.
 */

export interface SyncState {
  readonly version: string;
  readonly key: string[];
}

/** A batch of changes: a GeoJSON sequence of features and of removed keys, and what it holds. */
export interface ChangeBatch {
  readonly file: string;
  /** The properties of the changed features: the columns to write. */
  readonly columns: string[];
  readonly upserts: number;
  readonly removed: number;
}

export interface SyncTarget {
  readonly description: string;
  state(collection: string): Promise<SyncState | undefined>;
  /** The whole table from a GeoJSON sequence, then the version it is at: one switch from old to new. */
  replace(collection: string, file: string, state: SyncState): Promise<void>;
  /** Rows of the batch's keys deleted, its features inserted, the version recorded: one transaction. */
  apply(collection: string, batch: ChangeBatch, state: SyncState): Promise<void>;
}

/** Marks a line of the sequence that only names a removed key. */
export const REMOVED_MARK = 'strata_removed';

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;
const lit = (text: string) => `'${text.replace(/'/g, "''")}'`;
const suffix = () => randomBytes(4).toString('hex');

/**
 * SQL of both engines: the statements that apply a batch in `staging` to `table`. Rows go by `key IN (SELECT
 * key FROM staging)`, which both engines answer by walking the batch and seeking the table's key index (a
 * correlated EXISTS made SQLite scan a million rows, each probing the batch).
 */
function applyStatements(
  table: string,
  staging: string,
  batch: ChangeBatch,
  key: string[],
  cast?: Map<string, string>,
) {
  const typed = (c: string) => (cast?.get(c) ? `s.${q(c)}::${cast.get(c)}` : `s.${q(c)}`);
  const keys = key.length === 1 ? q(key[0]!) : `(${key.map(q).join(', ')})`;
  const statements = [
    `DELETE FROM ${table} WHERE ${keys} IN (SELECT ${key.map(typed).join(', ')} FROM ${staging} s)`,
  ];
  if (batch.upserts > 0) {
    const cols = [...batch.columns.map(q), q('geom')];
    const values = [...batch.columns, 'geom'].map(typed);
    statements.push(
      `INSERT INTO ${table} (${cols.join(', ')}) SELECT ${values.join(', ')} FROM ${staging} s${batch.removed > 0 ? ` WHERE s.${q(REMOVED_MARK)} IS NULL` : ''}`,
    );
  }
  return statements;
}

const META_COLUMNS =
  'collection TEXT PRIMARY KEY, version TEXT NOT NULL, key_columns TEXT NOT NULL, synced_at TEXT NOT NULL';
const metaUpsert = (collection: string, s: SyncState) =>
  `INSERT INTO strata_sync (collection, version, key_columns, synced_at) VALUES (${lit(collection)}, ${lit(s.version)}, ${lit(JSON.stringify(s.key))}, ${lit(new Date().toISOString())}) ON CONFLICT (collection) DO UPDATE SET version = excluded.version, key_columns = excluded.key_columns, synced_at = excluded.synced_at`;

/**
 * A GeoPackage. The changes go into a GeoPackage of their own (ogr2ogr), which one ogrinfo attaches to the
 * target to apply them: GDAL's GPKG driver runs its open option PRELUDE_STATEMENTS with sqlite3_exec, so
 * BEGIN … COMMIT there is one SQLite transaction, with GDAL's functions (those of the R-tree's triggers)
 * registered. A full copy is written into a copy of the file beside it, then renamed over it.
 */
export class GeoPackageTarget implements SyncTarget {
  constructor(
    readonly file: string,
    readonly layer: string,
  ) {}

  get description() {
    return `${this.file} (layer ${this.layer})`;
  }

  /** Runs the statements in one SQLite session of GDAL's; a failed one ends it (and rolls back a BEGIN). */
  private exec(file: string, statements: readonly string[]) {
    return runGdal('ogrinfo', [
      '-q',
      file,
      '-oo',
      `PRELUDE_STATEMENTS=${statements.join('; ')}`,
      '-sql',
      'SELECT 1',
    ]);
  }

  async state(collection: string): Promise<SyncState | undefined> {
    if (!(await stat(this.file).catch(() => undefined))) return undefined;
    const csv = await runGdal('ogr2ogr', [
      '-f',
      'CSV',
      '/vsistdout/',
      this.file,
      '-sql',
      `SELECT version, key_columns FROM strata_sync WHERE collection = ${lit(collection)}`,
    ]).catch(() => '');
    const line = csv.split('\n')[1]?.trim();
    if (!line) return undefined;
    const m = /^([^,]+),"?(.*?)"?$/.exec(line);
    if (!m) return undefined;
    return { version: m[1]!, key: JSON.parse(m[2]!.replace(/""/g, '"')) as string[] };
  }

  /** An index on the key (how a change finds its row), and the version reached. */
  private keep(collection: string, s: SyncState) {
    const index =
      s.key.length > 0
        ? [
            `CREATE INDEX IF NOT EXISTS ${q(`${this.layer}_strata_key`)} ON ${q(this.layer)} (${s.key.map(q).join(', ')})`,
          ]
        : [];
    return {
      index,
      record: [`CREATE TABLE IF NOT EXISTS strata_sync (${META_COLUMNS})`, metaUpsert(collection, s)],
    };
  }

  async replace(collection: string, file: string, s: SyncState): Promise<void> {
    const copy = join(dirname(this.file), `.${suffix()}.strata-sync.gpkg`);
    try {
      const exists = await stat(this.file).catch(() => undefined);
      if (exists) await copyFile(this.file, copy);
      await runGdal('ogr2ogr', [
        ...(exists ? ['-update', '-overwrite'] : ['-f', 'GPKG']),
        copy,
        file,
        '-nln',
        this.layer,
        '-lco',
        'FID=strata_fid',
        '-lco',
        'GEOMETRY_NAME=geom',
        '--config',
        'OGR_SQLITE_SYNCHRONOUS',
        'OFF',
      ]);
      const { index, record } = this.keep(collection, s);
      await this.exec(copy, ['BEGIN', ...index, ...record, 'COMMIT']);
      await rename(copy, this.file);
    } finally {
      await rm(copy, { force: true });
    }
  }

  async apply(collection: string, batch: ChangeBatch, s: SyncState): Promise<void> {
    const staging = `${batch.file}.gpkg`;
    const layer = 'strata_sync_changes';
    try {
      await runGdal('ogr2ogr', [
        '-f',
        'GPKG',
        staging,
        batch.file,
        '-nln',
        layer,
        '-lco',
        'FID=strata_fid',
        '-lco',
        'GEOMETRY_NAME=geom',
        '-lco',
        'SPATIAL_INDEX=NO',
      ]);
      const { index, record } = this.keep(collection, s);
      await this.exec(this.file, [
        `ATTACH DATABASE ${lit(staging)} AS strata_changes`,
        'BEGIN',
        ...index,
        ...applyStatements(q(this.layer), `strata_changes.${q(layer)}`, batch, s.key),
        ...record,
        'COMMIT',
        'DETACH DATABASE strata_changes',
      ]);
    } finally {
      await rm(staging, { force: true });
    }
  }
}

/** `postgres://user:pw@host:port/db` as the key=value string GDAL's driver takes (it adds to a URI badly). */
export function gdalConnection(url: string): string {
  const u = new URL(url);
  const parts = [
    ['host', u.hostname],
    ['port', u.port],
    ['dbname', decodeURIComponent(u.pathname.slice(1))],
    ['user', decodeURIComponent(u.username)],
    ['password', decodeURIComponent(u.password)],
  ].filter(([, v]) => v);
  for (const [k, v] of u.searchParams) parts.push([k, v]);
  return `PG:${parts.map(([k, v]) => `${k}='${v!.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(' ')}`;
}

/** A PostGIS table; the rows come in through ogr2ogr into a table of their own, and move in one transaction. */
export class PostgisTarget implements SyncTarget {
  private db: PgDatabase | undefined;

  constructor(
    readonly url: string,
    readonly table: string,
  ) {}

  get description() {
    const u = new URL(this.url);
    return `postgres://${u.host}${u.pathname} (table ${this.table})`;
  }

  private async open(): Promise<PgDatabase> {
    this.db ??= await PgDatabase.open(this.url, { max: 2 });
    return this.db;
  }

  async close(): Promise<void> {
    await this.db?.close();
    this.db = undefined;
  }

  async state(collection: string): Promise<SyncState | undefined> {
    const db = await this.open();
    const [exists] = await db.query<{ t: string | null }>(`SELECT to_regclass('strata_sync')::text AS t`);
    if (!exists?.t) return undefined;
    const [row] = await db.query<{ version: string; key_columns: string }>(
      'SELECT version, key_columns FROM strata_sync WHERE collection = $1',
      [collection],
    );
    const [table] = await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [
      q(this.table),
    ]);
    return row && table?.t
      ? { version: row.version, key: JSON.parse(row.key_columns) as string[] }
      : undefined;
  }

  private load(file: string, name: string, index: boolean) {
    return runGdal('ogr2ogr', [
      '-f',
      'PostgreSQL',
      gdalConnection(this.url),
      file,
      '-nln',
      name,
      '-lco',
      'FID=strata_fid',
      '-lco',
      'GEOMETRY_NAME=geom',
      '-lco',
      `SPATIAL_INDEX=${index ? 'GIST' : 'NONE'}`,
      '-lco',
      'LAUNDER=NO',
      '--config',
      'PG_USE_COPY',
      'YES',
    ]);
  }

  async replace(collection: string, file: string, s: SyncState): Promise<void> {
    const db = await this.open();
    const loading = `${this.table}_${suffix()}`;
    await this.load(file, loading, true);
    try {
      await db.transaction(async () => {
        await db.exec(`DROP TABLE IF EXISTS ${q(this.table)}`);
        await db.exec(`ALTER TABLE ${q(loading)} RENAME TO ${q(this.table)}`);
        if (s.key.length > 0) await db.exec(`CREATE INDEX ON ${q(this.table)} (${s.key.map(q).join(', ')})`);
        await db.exec(`CREATE TABLE IF NOT EXISTS strata_sync (${META_COLUMNS})`);
        await db.exec(metaUpsert(collection, s));
      });
    } finally {
      await db.exec(`DROP TABLE IF EXISTS ${q(loading)}`);
    }
  }

  async apply(collection: string, batch: ChangeBatch, s: SyncState): Promise<void> {
    const db = await this.open();
    const staging = `${this.table}_changes_${suffix()}`;
    await this.load(batch.file, staging, false);
    try {
      const types = await db.query<{ name: string; type: string }>(
        `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
        [q(this.table)],
      );
      const cast = new Map(types.map((t) => [t.name, t.type]));
      await db.transaction(async () => {
        for (const statement of applyStatements(q(this.table), q(staging), batch, s.key, cast))
          await db.exec(statement);
        await db.exec(metaUpsert(collection, s));
      });
    } finally {
      await db.exec(`DROP TABLE IF EXISTS ${q(staging)}`);
    }
  }
}
