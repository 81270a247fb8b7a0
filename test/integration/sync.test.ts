import { type ChildProcess, execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { IssuedCredentials } from '../../runtime/partners/admin.ts';
import type { SyncResult } from '../../runtime/sync/sync.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { runCli, serveArgs, startServe } from '../helpers/cli.ts';
import { freshDatabaseUrl, processEngines } from '../helpers/engines.ts';
import { SITES_DATASET, type Site, siteGrid, sitesCsv } from '../helpers/sites.ts';
import { freePort, until } from '../helpers/wait.ts';

const run = promisify(execFile);

/** A layer as sorted `id|name|visits|WKT` lines, read by GDAL from any source it opens. */
async function rowsOf(source: string, layer: string, geom = 'geom'): Promise<string[]> {
  const { stdout } = await run(
    'ogr2ogr',
    [
      '-f',
      'CSV',
      '/vsistdout/',
      source,
      '-sql',
      `SELECT id, name, visits, ST_AsText(${geom}) AS wkt FROM "${layer}" ORDER BY id`,
      '-dialect',
      'SQLite',
    ],
    { maxBuffer: 1 << 28 },
  );
  return stdout.trim().split('\n').slice(1);
}

describe.each(processEngines())('strata sync against strata serve ($name), end to end', (mode) => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('takes a full copy, then only the changes into a GeoPackage (and a PostGIS table), equal row for row to the published file', async () => {
    const home = await mkdtemp(join(tmpdir(), 'strata-sync-'));
    const catalogDir = join(home, 'catalog');
    await writeCatalog(catalogDir, {
      datasets: { sites: SITES_DATASET },
      products: {
        site_list: {
          product: {
            inputs: { sites: 'sites' },
            outputs: [{ table: 'places', key: ['id'], formats: ['flatgeobuf', 'gpkg'] }],
          },
          sql: { '010_out.sql': 'CREATE TABLE places AS SELECT id, name, visits, geom FROM sites;' },
        },
      },
    });
    const env: NodeJS.ProcessEnv = { ...process.env };
    const url = await mode.url();
    if (url) env.DATABASE_URL = url;
    else delete env.DATABASE_URL;
    const cli = (...args: string[]) => runCli(['--catalog', catalogDir, '--home', home, ...args], env);
    const added = await cli('--json', 'partners', 'add', 'council', '--scope', 'read:products/site_list');
    expect(added.code).toBe(0);
    const issued = JSON.parse(added.stdout) as IssuedCredentials;
    const port = await freePort();
    const { child } = await startServe(serveArgs(catalogDir, home, port), env, port);
    children.push(child);
    const base = `http://127.0.0.1:${port}`;
    const egress = join(home, 'buckets', 'egress', 'products', 'site_list');
    const latest = async () =>
      JSON.parse(await readFile(join(egress, 'latest.json'), 'utf8').catch(() => '{}')) as {
        version?: string;
      };
    const drop = async (n: number, sites: Site[]) => {
      const before = (await latest()).version;
      const dir = join(home, 'buckets', 'ingress', 'datasets', 'sites');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `sites-${n}.csv`), sitesCsv(sites));
      return until(
        'the new version to be published',
        async () => {
          const v = (await latest()).version;
          return v && v !== before ? v : undefined;
        },
        240_000,
      );
    };
    const sync = async (into: string, auth: string[]) => {
      const r = runCli(['--json', 'sync', base, 'site_list.places', '--into', into, ...auth], env);
      const res = await r;
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      return JSON.parse(res.stdout) as SyncResult;
    };
    const hawk = ['--hawk-id', issued.hawk!.id, '--hawk-key', issued.hawk!.key];
    const gpkg = join(home, 'copy', 'places.gpkg');
    await mkdir(join(home, 'copy'));
    const published = async (version: string) => rowsOf(join(egress, version, 'places.gpkg'), 'places');

    // Prepare: version 1. Act: the first sync takes a full copy.
    const v1 = await drop(1, siteGrid());
    const first = await sync(gpkg, hawk);
    expect(first).toMatchObject({ mode: 'full', version: v1, features: 60, from: null });
    expect(await rowsOf(gpkg, 'places')).toEqual(await published(v1));

    // Version 2: site 7 goes, 61 comes, six change. The next sync moves only those.
    const next = siteGrid().filter((s) => s.id !== 7);
    for (const s of next) if (s.id % 10 === 0) s.visits += 100;
    next.push({ id: 61, name: "O'Brien's", visits: 3, lon: 1.123456789012345, lat: 54.2 });
    const v2 = await drop(2, next);
    const second = await sync(gpkg, hawk);
    expect(second).toMatchObject({ mode: 'changes', from: v1, version: v2, features: 7, removed: 1 });
    expect(second.bytes).toBeLessThan(first.bytes / 3);
    expect(await rowsOf(gpkg, 'places')).toEqual(await published(v2));
    const third = await sync(gpkg, hawk);
    expect(third).toMatchObject({ mode: 'current', version: v2 });

    // A PostGIS table, with an API key: a full copy of v2, equal to the published file.
    if (url) {
      const target = (await freshDatabaseUrl())!;
      const client = new pg.Client({ connectionString: target });
      await client.connect();
      await client.query('CREATE EXTENSION IF NOT EXISTS postgis');
      await client.end();
      const key = ['--api-key', issued.apiKey!.key];
      expect(await sync(target, key)).toMatchObject({ mode: 'full', version: v2, features: 60 });
      const v3 = await drop(3, siteGrid());
      expect(await sync(target, key)).toMatchObject({ mode: 'changes', from: v2, version: v3, removed: 1 });
      const { stdout } = await run('ogr2ogr', [
        '-f',
        'GPKG',
        join(home, 'copy', 'from-pg.gpkg'),
        `PG:${target.replace(/^postgres:\/\/([^@]+)@([^:/]+):(\d+)\/(.+)$/, 'host=$2 port=$3 dbname=$4 user=$1')}`,
        'places',
      ]);
      expect(stdout).toBe('');
      expect(await rowsOf(join(home, 'copy', 'from-pg.gpkg'), 'places')).toEqual(await published(v3));
    }
  }, 600_000);
});
