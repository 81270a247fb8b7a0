import { existsSync, readFileSync } from 'node:fs';
import { chmod, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FsObjectStore } from '../adapters/local/fs-object-store.ts';
import { HttpFederation } from '../adapters/local/http-federation.ts';
import { PgliteDatabase, pgliteDataDir } from '../adapters/local/pglite-database.ts';
import { preparedImage } from '../adapters/local/pglite-image.ts';
import { TableJobQueue } from '../adapters/local/table-job-queue.ts';
import { PgDatabase } from '../adapters/postgres/pg-database.ts';
import { migrate } from '../db/migrate.ts';
import type { Database } from '../ports/database.ts';
import type { JobQueue } from '../ports/job-queue.ts';
import { RunRegistry } from '../runs/registry.ts';
import type { Platform } from './platform.ts';

export interface LocalOptions {
  /** Where buckets and the embedded database live; `STRATA_HOME`, default `./.strata`. */
  readonly home?: string;
  /** A PostgreSQL + PostGIS server to use instead of the embedded database. */
  readonly databaseUrl?: string;
  /** Connections to a server at most (the pool's size; `serveConnections` for `strata serve`). @default 8 */
  readonly connections?: number;
}

export function strataHome(home?: string): string {
  return resolve(home ?? process.env.STRATA_HOME ?? '.strata');
}

/**
 * `<home>/database.json`: the server a home moved to (`strata db move`), as `{ "url": "postgres://…" }`, kept
 * readable by its owner alone since the URL may hold a password. Without it the home uses its embedded
 * database; DATABASE_URL, when set, wins over both.
 */
export const homeDatabaseFile = (home?: string) => join(strataHome(home), 'database.json');

/** The server this home's database is on: DATABASE_URL, else the home's `database.json`; undefined for the embedded one. */
export function databaseUrlOf(home?: string): string | undefined {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const file = homeDatabaseFile(home);
  if (!existsSync(file)) return undefined;
  const url = (JSON.parse(readFileSync(file, 'utf8')) as { url?: unknown }).url;
  if (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url))
    throw new Error(`${file}: url: must be a postgres:// URL, got ${JSON.stringify(url)}`);
  return url;
}

/**
 * Points the home at a server (or, with undefined, back at its embedded database). The embedded database left
 * behind is renamed aside, not deleted, so it is never opened again by mistake and nothing is lost.
 */
export async function switchHomeDatabase(
  home: string | undefined,
  url: string | undefined,
): Promise<string | undefined> {
  const file = homeDatabaseFile(home);
  if (url === undefined) {
    await rm(file, { force: true });
    return undefined;
  }
  await writeFile(file, `${JSON.stringify({ url }, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  const embedded = pgliteDataDir(strataHome(home));
  if (!existsSync(embedded)) return undefined;
  const aside = `${embedded}.before-move-${new Date().toISOString().replace(/[:.]/g, '')}`;
  await rename(embedded, aside);
  return aside;
}

/**
 * True when opening would create the embedded database (no DATABASE_URL, nothing in the home yet): the
 * first run, which copies the prepared image (and makes it first, 10–25 s, once per installed version).
 */
export function createsEmbeddedDatabase(options: LocalOptions = {}): boolean {
  if (options.databaseUrl ?? databaseUrlOf(options.home)) return false;
  return !existsSync(join(pgliteDataDir(strataHome(options.home)), 'PG_VERSION'));
}

export async function openDatabase(options: LocalOptions & { embedded?: boolean } = {}): Promise<Database> {
  const url = options.embedded ? undefined : (options.databaseUrl ?? databaseUrlOf(options.home));
  const db = url
    ? await PgDatabase.open(url, { max: options.connections })
    : await PgliteDatabase.open(pgliteDataDir(strataHome(options.home)), { image: preparedImage });
  try {
    await migrate(db);
  } catch (e) {
    await db.close();
    throw e;
  }
  return db;
}

/**
 * The local queue and the run registry over one database: a job the queue dead-letters fails its run with
 * the reason, as the dead-letter consumer does on AWS.
 */
export function localQueueAndRuns(db: Database): { queue: JobQueue; runs: RunRegistry } {
  const runs = new RunRegistry(db);
  const queue = new TableJobQueue(db, {
    onDeadLetter: async ({ runId, reason }) => {
      await failDeadLettered(runs, runId, reason);
    },
  });
  return { queue, runs };
}

/** A run whose job went to the dead-letter: failed with the reason, unless it has already ended. */
async function failDeadLettered(runs: RunRegistry, runId: string, reason: string): Promise<void> {
  const run = await runs.get(runId).catch(() => undefined);
  if (!run || run.status === 'succeeded' || run.status === 'failed' || run.status === 'running') return;
  await runs.fail(runId, {
    code: 'DEAD_LETTER',
    message: `its job went to the dead-letter queue: ${reason}`,
  });
}

/** The buckets of a home: a folder each. */
export const localStore = (home?: string): FsObjectStore =>
  new FsObjectStore(join(strataHome(home), 'buckets'));

/** The embedded default: folders for buckets, PGlite (or DATABASE_URL), the queue as a table. */
export async function openLocalPlatform(options: LocalOptions = {}): Promise<Platform> {
  const federation = HttpFederation.fromEnv(strataHome(options.home));
  const db = await openDatabase(options);
  return {
    db,
    store: localStore(options.home),
    ...localQueueAndRuns(db),
    federation,
    close: () => db.close(),
  };
}
