import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCatalog } from '../helpers/catalog.ts';
import { type CliHome, cliEngines, LONG } from '../helpers/cli.ts';

describe.each(cliEngines())('strata validate checks product SQL, on $name', (engine) => {
  const homes: CliHome[] = [];
  afterAll(async () => {
    for (const h of homes) await h.close();
  });

  it(
    'runs each product on empty stand-ins of its inputs and names the file, line and column of what fails',
    LONG,
    async () => {
      // Prepare: two datasets, a sound product whose second step reads the first's table, and one with mistakes.
      const h = await engine.setup();
      homes.push(h);
      const catalog = join(h.home, 'catalog');
      await writeCatalog(catalog, {
        datasets: {
          places: {
            format: 'csv',
            columns: [
              { name: 'id', type: 'integer' },
              { name: 'name', type: 'text' },
              { name: 'lon', type: 'double' },
              { name: 'lat', type: 'double' },
            ],
            geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat' },
          },
          zones: {
            format: 'geojson',
            columns: [{ name: 'code', type: 'text' }],
            geometry: { kind: 'geojson', type: 'MultiPolygon', sourceSrid: 27700, targetSrid: 4326 },
          },
        },
        products: {
          sound: {
            product: {
              inputs: { p: 'places', z: 'zones' },
              checks: [{ type: 'not_null', table: 'counted', columns: ['code'] }],
              outputs: [{ table: 'counted', orderBy: ['code'] }],
            },
            sql: {
              '010_joined.sql':
                'CREATE TABLE joined AS\nSELECT p.id, p.name, z.code, p.geom\nFROM p JOIN z ON ST_Within(p.geom, z.geom);\n',
              '020_counted.sql':
                'CREATE TABLE counted AS SELECT code, count(*) AS n FROM joined GROUP BY code;\n',
            },
          },
          mistaken: {
            product: {
              inputs: { p: 'places' },
              checks: [
                { type: 'unique', table: 'named', columns: ['nmae'] },
                { type: 'sql', table: 'named', sql: 'SELECT * FROM named WHERE id < 0' },
              ],
              outputs: [{ table: 'named', orderBy: ['label'] }],
            },
            sql: {
              '010_named.sql':
                '-- the places, with their names\nCREATE TABLE named AS\nSELECT id,\n       upper(nme) AS label\nFROM p;\n',
            },
          },
          later: {
            product: { inputs: { p: 'places' }, outputs: [{ table: 'b' }] },
            sql: {
              '010_ab.sql':
                'CREATE TABLE a AS SELECT id FROM p;\nCREATE TABLE b AS SELECT id FROM a WHER id > 0;\n',
            },
          },
        },
      });

      // Act
      const checked = await h.run(['--catalog', catalog, 'validate']);
      const json = await h.run(['--catalog', catalog, '--json', 'validate']);

      // Assess: each mistake at its place, with the database's own words; exit code 2.
      expect(checked.stdout.trimEnd().split('\n')).toEqual([
        'products/later/010_ab.sql:2:41: syntax error at or near "id"',
        expect.stringMatching(
          /^products\/mistaken\/010_named\.sql:4:14: column "nme" does not exist( \(Perhaps you meant to reference the column "p\.name"\.\))?$/,
        ),
      ]);
      expect(checked.code).toBe(2);
      const report = JSON.parse(json.stdout) as {
        ok: boolean;
        sql: { checked: string[] };
        issues: unknown[];
      };
      expect(report.sql.checked).toEqual(['later', 'mistaken', 'sound']);
      expect(report.issues).toHaveLength(2);
      expect(json.code).toBe(2);

      // Act + assess: with the mistaken statement mended, its checks and output are tried, and named in
      // product.yaml; and a dataset declared anew changes what its readers' SQL finds.
      await writeCatalog(catalog, {
        datasets: {
          places: {
            format: 'csv',
            columns: [
              { name: 'id', type: 'integer' },
              { name: 'name', type: 'text' },
            ],
            geometry: { kind: 'none' },
          },
        },
        products: {
          mistaken: {
            product: {
              inputs: { p: 'places' },
              checks: [
                { type: 'unique', table: 'named', columns: ['nmae'] },
                { type: 'sql', table: 'named', sql: 'SELECT * FROM named WHERE id < 0' },
              ],
              outputs: [{ table: 'named', orderBy: ['label'] }],
            },
            sql: { '010_named.sql': 'CREATE TABLE named AS SELECT id, upper(name) AS lable FROM p;\n' },
          },
        },
      }).catch(() => undefined);
      const mended = await h.run(['--catalog', catalog, 'validate']);
      expect(mended.stdout.trimEnd().split('\n')).toEqual([
        'products/later/010_ab.sql:2:41: syntax error at or near "id"',
        'products/mistaken/product.yaml:5:5: checks[0]: the check does not run: column "nmae" does not exist',
        expect.stringMatching(
          /^products\/mistaken\/product\.yaml:13:5: outputs\[0\]: the output cannot be read: column t\.label does not exist/,
        ),
        // places now declares no geometry: its stand-in has no geom, and the product that reads it is told.
        expect.stringMatching(/^products\/sound\/010_joined\.sql:3:28: column p\.geom does not exist/),
      ]);
      expect(mended.code).toBe(2);
    },
  );

  it(
    'opens no database when told not to check SQL, and leaves nothing behind when it does',
    LONG,
    async () => {
      // Prepare
      const h = await engine.setup();
      homes.push(h);
      const catalog = join(h.home, 'catalog');
      await writeCatalog(catalog, {
        datasets: {
          d: { format: 'csv', columns: [{ name: 'id', type: 'integer' }], geometry: { kind: 'none' } },
        },
        products: {
          p: {
            product: { inputs: { d: 'd' }, outputs: [{ table: 'o' }] },
            sql: { '010_o.sql': 'CREATE TABLE o AS SELECT * FROM d;' },
          },
        },
      });

      if (engine.name === 'pglite') {
        // Another process (this test's, standing in for a serve) holds the embedded database: validate says
        // the SQL went unchecked and why, rather than wait for it.
        await mkdir(join(h.home, 'pglite'), { recursive: true });
        await writeFile(join(h.home, 'pglite.lock'), String(process.pid));
        const held = await h.run(['--catalog', catalog, 'validate']);
        await rm(join(h.home, 'pglite.lock'));
        await rm(join(h.home, 'pglite'), { recursive: true });
        expect(held.stderr).toContain(
          `SQL not checked: the embedded database ${join(h.home, 'pglite')} is in use by process ${process.pid}`,
        );
        expect(held.code).toBe(0);
      }

      // Act
      const skipped = await h.run(['--catalog', catalog, 'validate', '--no-sql']);
      const homeAfterSkip = existsSync(join(h.home, 'pglite'));
      const checked = await h.run(['--catalog', catalog, 'validate']);

      // Assess
      expect(skipped.code).toBe(0);
      expect(skipped.stderr).toMatch(/is valid: 1 dataset\(s\), 1 product\(s\)\n$/);
      expect(homeAfterSkip).toBe(false);
      expect(checked.code).toBe(0);
      expect(checked.stderr).toMatch(/is valid: 1 dataset\(s\), 1 product\(s\), SQL checked\n$/);
      if (h.env.DATABASE_URL) {
        const client = new pg.Client({ connectionString: h.env.DATABASE_URL });
        await client.connect();
        const left = await client.query(
          "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'strata_validate_%' OR nspname IN ('p', 'o')",
        );
        await client.end();
        expect(left.rows).toEqual([]);
      }
    },
  );
});
