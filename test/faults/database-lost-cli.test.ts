// `strata db rebuild` as a user runs it, after the home's embedded database folder is deleted or the
// server's database is dropped and made again empty.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { writePlacesCatalog, writePlacesCsv } from '../helpers/catalog.ts';
import { type CliHome, cliEngines, LONG, versionsOf } from '../helpers/cli.ts';

/** Drops the database a URL names and makes an empty one of the same name: a lost database, restored to nothing. */
async function dropAndCreate(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}

describe.each(cliEngines())('strata db rebuild through the command line, on $name', (engine) => {
  const homes: CliHome[] = [];
  afterAll(async () => {
    for (const h of homes) await h.close();
  });

  it(
    'makes a lost database again with every version loaded, the same answers, and refuses a second time',
    LONG,
    async () => {
      // Prepare: two versions and a product built from them.
      const h = await engine.setup();
      homes.push(h);
      const catalog = join(h.home, 'catalog');
      await writePlacesCatalog(catalog);
      const strata = (...args: string[]) => h.run(['--catalog', catalog, ...args]);
      for (const [name, rows] of [
        ['a.csv', 3],
        ['b.csv', 4],
      ] as const) {
        expect((await strata('ingest', 'places', await writePlacesCsv(h.home, name, rows))).code).toBe(0);
      }
      expect((await strata('build', 'summary')).code).toBe(0);
      const before = {
        show: (await strata('--json', 'show', 'summary')).stdout,
        products: (await strata('--json', 'versions', 'summary')).stdout,
        places: versionsOf((await strata('--json', 'versions', 'places')).stdout),
      };

      // Act: the database is lost; the buckets are not.
      if (h.env.DATABASE_URL) await dropAndCreate(h.env.DATABASE_URL);
      else await rm(join(h.home, 'pglite'), { recursive: true, force: true });
      const rebuilt = await strata('db', 'rebuild', '--all');
      const again = await strata('--json', 'db', 'rebuild');

      // Assess: progress and what could not be restored on stderr; the same answers after; a second rebuild
      // refused, with the reason.
      expect(rebuilt.code, rebuilt.stderr).toBe(0);
      expect(rebuilt.stderr).toMatch(/restored into an empty database: 2 dataset version\(s\), 2 move\(s\)/);
      expect(rebuilt.stderr).toMatch(/loading places@\S+ \(1\/2\)/);
      expect(rebuilt.stderr).toMatch(/loading places@\S+ \(2\/2\)/);
      expect(rebuilt.stderr).toMatch(/loaded 2 version\(s\), 7 row\(s\)/);
      expect(rebuilt.stderr).toMatch(/not restored.*\n.*runs that had not finished/);
      expect(again.code).toBe(5);
      expect(again.stdout).toMatch(/not behind the buckets: a rebuild would add nothing/);
      expect((await strata('--json', 'show', 'summary')).stdout).toBe(before.show);
      expect((await strata('--json', 'versions', 'summary')).stdout).toBe(before.products);
      expect(versionsOf((await strata('--json', 'versions', 'places')).stdout)).toEqual(before.places);
    },
  );
});
