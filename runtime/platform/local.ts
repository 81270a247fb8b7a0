import { existsSync } from 'node:fs';
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
}

export function strataHome(home?: string): string {
  return resolve(home ?? process.env.STRATA_HOME ?? '.strata');
}

/**
 * True when opening would create the embedded database (no DATABASE_URL, nothing in the home yet): the
 * first run, which copies the prepared image (and makes it first, 10–25 s, once per installed version).
 */
export function createsEmbeddedDatabase(options: LocalOptions = {}): boolean {
  if (options.databaseUrl ?? process.env.DATABASE_URL) return false;
  return !existsSync(join(pgliteDataDir(strataHome(options.home)), 'PG_VERSION'));
}

export async function openDatabase(options: LocalOptions = {}): Promise<Database> {
  const url = options.databaseUrl ?? process.env.DATABASE_URL;
  const db = url
    ? await PgDatabase.open(url)
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
