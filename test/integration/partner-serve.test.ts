import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { IssuedCredentials } from '../../runtime/partners/admin.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { serveArgs, startServe } from '../helpers/cli.ts';
import { processEngines } from '../helpers/engines.ts';
import { hawkFetch, hawkOf } from '../helpers/partner-api.ts';
import { freePort, until } from '../helpers/wait.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

describe.each(processEngines())('the partner API on strata serve ($name), end to end', (mode) => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('upload → automatic ingest with its receipt → build → rows and a download; a revoked key stops at once', async () => {
    // Prepare: a catalog, a partner made by the command line, and strata serve.
    const home = await mkdtemp(join(tmpdir(), 'strata-partner-serve-'));
    const catalogDir = join(home, 'catalog');
    await writeCatalog(catalogDir, {
      datasets: {
        sightings: {
          format: 'csv',
          columns: [
            { name: 'id', type: 'integer', required: true },
            { name: 'species', type: 'text' },
            { name: 'lon', type: 'double' },
            { name: 'lat', type: 'double' },
          ],
          geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat' },
        },
      },
      products: {
        by_species: {
          product: {
            inputs: { sightings: 'sightings' },
            outputs: [{ table: 'counts', formats: ['csv', 'geojson'] }],
          },
          sql: {
            '010_counts.sql':
              'CREATE TABLE counts AS SELECT species, count(*)::int AS n, ST_Centroid(ST_Collect(geom)) AS geom FROM sightings GROUP BY species;',
          },
        },
      },
    });
    const cli = (...args: string[]) =>
      run('node', ['bin/strata.mjs', '--catalog', catalogDir, '--home', home, ...args], { cwd: ROOT });
    const issued = JSON.parse(
      (
        await cli(
          '--json',
          'partners',
          'add',
          'rangers',
          '--scope',
          'upload:datasets/sightings',
          '--scope',
          'read:products/by_species',
          '--scope',
          'build:products/by_species',
        )
      ).stdout,
    ) as IssuedCredentials;
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env };
    const url = await mode.url();
    if (url) env.DATABASE_URL = url;
    else delete env.DATABASE_URL;
    const { child } = await startServe(serveArgs(catalogDir, home, port), env, port);
    children.push(child);
    const base = `http://127.0.0.1:${port}`;
    const creds = hawkOf(issued);
    const api = async (path: string, init: { method?: string; body?: string } = {}) => {
      const r = await hawkFetch(fetch, creds, `${base}${path}`, init);
      // Every answer is signed for the partner to check.
      expect(r.verified).toBe(true);
      return r;
    };

    // Act 1: ask for an upload, PUT the file, wait for its receipt.
    const csv = 'id,species,lon,lat\n1,otter,-1.5,52.1\n2,otter,-1.6,52.2\n3,kingfisher,-1.4,52.0\n';
    const upload = JSON.parse(
      (
        await api('/datasets/sightings/uploads', {
          method: 'POST',
          body: JSON.stringify({ filename: 'week1.csv', size: csv.length }),
        })
      ).text,
    );
    const put = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: csv });
    const receipt = await until('the upload to be ingested', async () => {
      const s = JSON.parse((await api(`/datasets/sightings/uploads/${upload.uploadId}`)).text);
      return s.status === 'succeeded' || s.status === 'failed' ? s : undefined;
    });
    // Assess 1
    expect(put.status).toBe(200);
    expect(receipt.run).toMatchObject({
      kind: 'ingest',
      status: 'succeeded',
      result: { rows: 3, created: true },
    });

    // Act 2: a build, asked for once with a key; then the rows of its output and a download.
    const build = JSON.parse(
      (await hawkFetch(fetch, creds, `${base}/products/by_species/builds`, { method: 'POST' })).text,
    );
    const built = await until('the build to finish', async () => {
      const r = JSON.parse((await api(`/runs/${build.runId}`)).text);
      return r.status === 'succeeded' || r.status === 'failed' ? r : undefined;
    });
    const manifest = JSON.parse((await api('/products/by_species/latest')).text);
    const download = await api(`/products/by_species/versions/${manifest.version}/outputs/counts?format=csv`);
    const file = await fetch(download.res.headers.get('location')!);
    // Assess 2
    expect(built).toMatchObject({
      status: 'succeeded',
      kind: 'build',
      trigger: { kind: 'api', by: 'rangers' },
    });
    expect(manifest.outputs.map((o: { format: string }) => o.format).sort()).toEqual(['csv', 'geojson']);
    expect(download.res.status).toBe(302);
    expect((await file.text()).split('\n').slice(1).filter(Boolean).sort()).toEqual([
      expect.stringMatching(/^kingfisher,1,POINT/),
      expect.stringMatching(/^otter,2,POINT/),
    ]);

    // Act 2b: the example client of docs/partner-api.md does the same, start to end.
    const week2 = join(home, 'week2.csv');
    await writeFile(week2, 'id,species,lon,lat\n4,heron,-1.5,52.3\n');
    const example = await run('node', ['examples/partner-client.mjs', 'sightings', week2, 'by_species'], {
      cwd: ROOT,
      env: {
        ...process.env,
        STRATA_API: base,
        HAWK_ID: creds.id,
        HAWK_KEY: creds.key,
        STRATA_CALLBACK: 'http://127.0.0.1:9/strata',
      },
    });
    // Assess 2b
    expect(example.stdout).toMatch(/^uploaded week2\.csv as u[0-9a-f]{12}-week2\.csv$/m);
    expect(example.stdout).toMatch(/^ingested: version \S+, 1 rows$/m);
    expect(example.stdout).toMatch(/^heron,1,POINT/m);
    // ... and subscribes to the product's publish notifications, which the API then lists for the partner.
    const subscribed = /^subscribed http:\/\/127\.0\.0\.1:9\/strata to by_species as (\S+)$/m.exec(
      example.stdout,
    );
    expect(subscribed).not.toBeNull();
    expect(example.stdout).toMatch(/^signing secret \(shown once\): whsec_[A-Za-z0-9+/]+=*$/m);
    const listed = JSON.parse((await api('/subscriptions')).text) as { id: string; products: string[] }[];
    expect(listed.map((l) => [l.id, l.products])).toEqual([[subscribed![1], ['by_species']]]);

    // Act 3: the partner's API key works; revoked with the command line, it is refused at once, no restart.
    const key = issued.apiKey!.key;
    const before = await fetch(`${base}/products`, { headers: { 'X-API-Key': key } });
    await cli('partners', 'revoke-key', 'rangers', issued.apiKey!.id);
    const after = await fetch(`${base}/products`, { headers: { 'X-API-Key': key } });
    const operators = await fetch(`${base}/runs`);
    // Assess 3
    expect(before.status).toBe(200);
    expect(after.status).toBe(401);
    expect(operators.status).toBe(200);
    expect(((await operators.json()) as unknown[]).length).toBeGreaterThanOrEqual(2);
  }, 300_000);
});
