import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Queryable } from '../ports/database.ts';
import { packagePath } from '../util/package-root.ts';

/** The platform's migrations, shipped with the package. */
export const sqlDir = (): string => packagePath('sql');

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export async function readMigrations(dir = sqlDir()): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f));
  return migrationsFrom(
    await Promise.all(names.map(async (name) => ({ name, sql: await readFile(join(dir, name), 'utf8') }))),
  );
}

/** Arbitrary but fixed: serialises migrators across processes sharing one database. */
const MIGRATION_LOCK = 0x5354_5241;

/** What migrations need of a database: a connection (pg, PGlite) or the RDS Data API. */
export interface MigrationTarget extends Queryable {
  transaction<T>(fn: () => Promise<T>): Promise<T>;
}

/**
 * Applies forward-only migrations in order, each once, each in its own transaction, and refuses to run if a
 * migration already applied has been edited since. The lock is taken per transaction, so this works over
 * the Data API too, where consecutive calls need not share a connection.
 */
export async function migrate(
  db: MigrationTarget,
  source: string | Migration[] = sqlDir(),
): Promise<string[]> {
  const migrations = typeof source === 'string' ? await readMigrations(source) : source;
  await db.transaction(async () => {
    await db.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await db.exec(`CREATE TABLE IF NOT EXISTS public.strata_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
  });
  const done: string[] = [];
  for (const m of migrations) {
    const applied = await db.transaction(async () => {
      await db.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const [previous] = await db.query<{ checksum: string }>(
        'SELECT checksum FROM public.strata_migrations WHERE version = $1',
        [m.version],
      );
      if (previous) {
        if (previous.checksum !== m.checksum)
          throw new Error(
            `migration ${m.name} was changed after it was applied; add a new migration instead`,
          );
        return false;
      }
      await db.exec(m.sql);
      await db.query('INSERT INTO public.strata_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        m.checksum,
      ]);
      return true;
    });
    if (applied) done.push(m.name);
  }
  return done;
}

/** Migrations from their names and text (as the deploy-time custom resource receives them). */
export function migrationsFrom(files: readonly { name: string; sql: string }[]): Migration[] {
  return files
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f.name))
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((f) => ({
      version: Number(f.name.slice(0, 3)),
      name: f.name,
      sql: f.sql,
      checksum: createHash('sha256').update(f.sql).digest('hex'),
    }));
}
