import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Queryable } from '../ports/database.ts';

/**
 * Which database this is: PostgreSQL's system identifier (made at initdb, unique per cluster) and the
 * database's name within the cluster. A rebuilt database is another one, whatever its path or URL.
 */
export interface DatabaseIdentity {
  readonly systemIdentifier: string;
  readonly name: string;
}

export async function databaseIdentity(db: Queryable): Promise<DatabaseIdentity> {
  const [row] = await db.query<{ id: string; name: string }>(
    'SELECT system_identifier::text AS id, current_database() AS name FROM pg_control_system()',
  );
  return { systemIdentifier: row!.id, name: row!.name };
}

/**
 * The system identifier of a PostgreSQL data directory, read from `global/pg_control` without starting the
 * database: it is the control file's first field, a 64-bit integer (little-endian in PGlite's WebAssembly).
 * Undefined when there is no data directory yet.
 */
export async function dataDirSystemIdentifier(dataDir: string): Promise<string | undefined> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(join(dataDir, 'global', 'pg_control'), 'r');
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(8), 0, 8, 0);
    return bytesRead === 8 ? buffer.readBigUInt64LE(0).toString() : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  } finally {
    await fh?.close();
  }
}
