import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { FsObjectStore } from '../../runtime/adapters/local/fs-object-store.ts';
import { PgliteDatabase } from '../../runtime/adapters/local/pglite-database.ts';
import { preparedImage } from '../../runtime/adapters/local/pglite-image.ts';
import { PgDatabase } from '../../runtime/adapters/postgres/pg-database.ts';
import { migrate } from '../../runtime/db/migrate.ts';
import { localQueueAndRuns } from '../../runtime/platform/local.ts';
import type { Platform } from '../../runtime/platform/platform.ts';
import type { Database } from '../../runtime/ports/database.ts';

export interface Engine {
  readonly name: 'pglite' | 'postgres';
  /** A fresh, migrated database of its own; closing it removes it. */
  open(): Promise<Database>;
}

/**
 * PGlite always; the PostgreSQL server too when DATABASE_URL is set (CI). Each open() on the server makes a
 * throwaway database, so test files running in parallel never share state.
 */
export function engines(): Engine[] {
  const list: Engine[] = [
    {
      name: 'pglite',
      // From the prepared image, as a new home is: a copy with an identity of its own, in memory.
      open: async () => migrated(await PgliteDatabase.open(undefined, { image: preparedImage })),
    },
  ];
  const url = process.env.DATABASE_URL;
  if (url) {
    list.push({
      name: 'postgres',
      open: async () => {
        const fresh = (await freshDatabaseUrl())!;
        const name = new URL(fresh).pathname.slice(1);
        const db = await migrated(await PgDatabase.open(fresh));
        const close = db.close.bind(db);
        return Object.assign(db, {
          close: async () => {
            await close();
            const a = new pg.Client({ connectionString: url });
            await a.connect();
            await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
            await a.end();
          },
        });
      },
    });
  }
  return list;
}

export interface ProcessEngine {
  readonly name: 'pglite' | 'postgres';
  /** The DATABASE_URL for a process the test starts: none (it opens PGlite in its home), or a fresh database. */
  url(): Promise<string | undefined>;
}

/** The engines for a process the test starts itself (strata serve, a task): PGlite always, the server too. */
export function processEngines(): ProcessEngine[] {
  const list: ProcessEngine[] = [{ name: 'pglite', url: async () => undefined }];
  if (process.env.DATABASE_URL) list.push({ name: 'postgres', url: freshDatabaseUrl });
  return list;
}

/** A new empty database on the DATABASE_URL server, for a process the test starts itself; undefined without one. */
export async function freshDatabaseUrl(): Promise<string | undefined> {
  const url = process.env.DATABASE_URL;
  if (!url) return undefined;
  const name = `strata_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function migrated(db: Database): Promise<Database> {
  await migrate(db);
  return db;
}

export interface TestPlatform extends Platform {
  readonly dir: string;
}

/** A platform on a fresh database with buckets in a temporary folder. */
export async function testPlatform(engine: Engine): Promise<TestPlatform> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-test-'));
  const db = await engine.open();
  return {
    dir,
    db,
    store: new FsObjectStore(join(dir, 'buckets')),
    ...localQueueAndRuns(db),
    close: async () => {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
