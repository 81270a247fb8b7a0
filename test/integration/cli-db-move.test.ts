// `strata db move`: a home on the embedded database moves to a PostgreSQL server and back, with the same
// answers each way. Needs the server: skipped without DATABASE_URL.
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { writePlacesCatalog, writePlacesCsv } from '../helpers/catalog.ts';
import { type CliHome, cliEngines, LONG, versionsOf } from '../helpers/cli.ts';
import { freshDatabaseUrl } from '../helpers/engines.ts';

describe.skipIf(!process.env.DATABASE_URL)('strata db move, embedded → server → embedded', () => {
  let h: CliHome | undefined;
  let server: string | undefined;
  afterAll(async () => {
    await h?.close();
    if (!server) return;
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${new URL(server).pathname.slice(1)} WITH (FORCE)`);
    await admin.end();
  });

  it(
    'moves the home to a server and back, with the same answers each way and nothing left behind deleted',
    LONG,
    async () => {
      // Prepare: an embedded home with two versions, a promotion and a product.
      h = await cliEngines()
        .find((e) => e.name === 'pglite')!
        .setup();
      const catalog = join(h.home, 'catalog');
      await writePlacesCatalog(catalog);
      const strata = (...args: string[]) => h!.run(['--catalog', catalog, ...args]);
      const ingest = async (name: string, rows: number) => {
        const run = await strata('--json', 'ingest', 'places', await writePlacesCsv(h!.home, name, rows));
        expect(run.code, run.stderr).toBe(0);
        return JSON.parse(run.stdout).run.result.version as string;
      };
      const answers = async () => ({
        versions: versionsOf((await strata('--json', 'versions', 'places')).stdout),
        history: (await strata('--json', 'datasets', 'history', 'places')).stdout,
        show: (await strata('--json', 'show', 'summary')).stdout,
        rows: (await strata('--json', 'build', 'summary', '--plan')).stdout,
      });
      const a = await ingest('a.csv', 3);
      await ingest('b.csv', 4);
      expect((await strata('build', 'summary')).code).toBe(0);
      expect((await strata('datasets', 'promote', 'places', a, '--reason', 'b was early')).code).toBe(0);
      const embedded = await answers();
      server = await freshDatabaseUrl();

      // Act: to the server.
      const there = await strata('db', 'move', '--to', server!);

      // Assess: the home names the server (readable by its owner alone), the embedded database is kept aside,
      // and every answer is the same.
      expect(there.code, there.stderr).toBe(0);
      expect(there.stderr).toMatch(
        /moved to postgres:.*the same 2 version\(s\) of 1 dataset\(s\), 3 move\(s\)/,
      );
      expect((await stat(join(h.home, 'database.json'))).mode & 0o777).toBe(0o600);
      expect(existsSync(join(h.home, 'pglite'))).toBe(false);
      expect((await readdir(h.home)).filter((f) => f.startsWith('pglite.before-move-'))).toHaveLength(1);
      expect(await answers()).toEqual(embedded);

      // Act: work on the server, then back to the embedded database.
      const c = await ingest('c.csv', 5);
      const onServer = await answers();
      const back = await strata('db', 'move', '--to', 'embedded');

      // Assess: the new version came along, and the answers are the server's.
      expect(back.code, back.stderr).toBe(0);
      expect(existsSync(join(h.home, 'database.json'))).toBe(false);
      expect(existsSync(join(h.home, 'pglite'))).toBe(true);
      expect(await answers()).toEqual(onServer);
      expect(onServer.versions.map((v) => (v as { version: string }).version)).toContain(c);
      // A second move to where the home already is: refused.
      const again = await strata('db', 'move', '--to', 'embedded');
      expect(again.code).toBe(5);
      expect(again.stderr).toMatch(/the home's database is the embedded database already/);
    },
  );
});
