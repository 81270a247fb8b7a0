import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from '../ports/database.ts';

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export async function readMigrations(dir = SQL_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (name) => {
      const sql = await readFile(join(dir, name), 'utf8');
      return {
        version: Number(name.slice(0, 3)),
        name,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    }),
  );
}

/** Arbitrary but fixed: serialises migrators across processes sharing one server. */
const MIGRATION_LOCK = 0x5354_5241;

/**
 * Applies forward-only migrations in order, each once, each in its own transaction, and refuses to run if a
 * migration already applied has been edited since.
 */
export async function migrate(db: Database, dir = SQL_DIR): Promise<string[]> {
  const migrations = await readMigrations(dir);
  return db.session(async () => {
    await db.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await db.exec(`CREATE TABLE IF NOT EXISTS public.strata_migrations (
        version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
      const applied = new Map(
        (
          await db.query<{ version: number; checksum: string; name: string }>(
            'SELECT version, checksum, name FROM public.strata_migrations',
          )
        ).map((r) => [r.version, r]),
      );
      const done: string[] = [];
      for (const m of migrations) {
        const previous = applied.get(m.version);
        if (previous) {
          if (previous.checksum !== m.checksum)
            throw new Error(
              `migration ${m.name} was changed after it was applied; add a new migration instead`,
            );
          continue;
        }
        await db.transaction(async () => {
          await db.exec(m.sql);
          await db.query(
            'INSERT INTO public.strata_migrations (version, name, checksum) VALUES ($1, $2, $3)',
            [m.version, m.name, m.checksum],
          );
        });
        done.push(m.name);
      }
      return done;
    } finally {
      await db.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  });
}
