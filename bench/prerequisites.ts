import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

const PGBIN = process.env.PGBIN ?? '/usr/lib/postgresql/15/bin';

const runs = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return !r.error && r.status === 0;
};

/**
 * What the bench needs on this machine, checked before any work: every missing piece is named at once with
 * what to install, rather than the first one failing midway (`spawn ogr2ogr ENOENT`).
 */
export async function checkPrerequisites(): Promise<void> {
  const missing: string[] = [];
  if (!runs('ogr2ogr', ['--version']))
    missing.push('ogr2ogr (GDAL 3.6 or newer): apt-get install gdal-bin  (macOS: brew install gdal)');
  if (!runs('psql', ['--version'])) missing.push('psql: apt-get install postgresql-client-15');
  const url = process.env.DATABASE_URL;
  if (url) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      const r = await client.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'`);
      if (r.rowCount === 0)
        missing.push('PostGIS on the server at DATABASE_URL: apt-get install postgresql-15-postgis-3 there');
    } catch (e) {
      missing.push(`a PostgreSQL server at DATABASE_URL (${(e as Error).message})`);
    } finally {
      await client.end().catch(() => {});
    }
  } else {
    if (!existsSync(join(PGBIN, 'initdb')))
      missing.push(
        `PostgreSQL 15 for a throwaway cluster (no ${join(PGBIN, 'initdb')}): apt-get install postgresql-15, or set DATABASE_URL to a server (PGBIN to another bin folder)`,
      );
    if (!existsSync('/usr/share/postgresql/15/extension/postgis.control'))
      missing.push('PostGIS for that cluster: apt-get install postgresql-15-postgis-3');
  }
  if (missing.length === 0) return;
  process.stderr.write(
    `npm run bench needs, and this machine lacks:\n${missing.map((m) => `  - ${m}\n`).join('')}`,
  );
  process.exit(1);
}
