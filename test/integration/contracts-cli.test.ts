import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../runtime/runs/schema.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { processEngines } from '../helpers/engines.ts';
import { BOW_TIE } from '../helpers/geometries.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Each command is a process of its own that opens the embedded database: seconds each, more on a busy machine. */
const SLOW = 900_000;

const modes = processEngines();

const header = 'id,name,population,lon,lat';
const site = (i: number) => `${i},Site ${i},${i * 10},${-1 + i / 1000},${52 + i / 1000}`;
const sites = (n: number, from = 1) =>
  `${[header, ...Array.from({ length: n }, (_, k) => site(from + k))].join('\n')}\n`;
const collection = (geometries: unknown[]) =>
  JSON.stringify({
    type: 'FeatureCollection',
    features: geometries.map((geometry, i) => ({ type: 'Feature', properties: { code: `c${i}` }, geometry })),
  });
const areas = (policy: string) => ({
  format: 'geojson',
  columns: [{ name: 'code', type: 'text', required: true }],
  geometry: { kind: 'geojson' },
  invalidGeometry: policy,
});

describe.each(modes)('the command line on $name: current versions, contracts, quarantine', (mode) => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  const catalogDir = () => join(home, 'catalog');
  /** Runs `strata` as a user runs it, in its own process; resolves with its exit code and output. */
  const strata = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        'node',
        ['bin/strata.mjs', '--catalog', catalogDir(), '--home', home, ...args],
        { cwd: ROOT, env, maxBuffer: 16 << 20 },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const file = async (name: string, body: string) => {
    const path = join(home, name);
    await writeFile(path, body);
    return path;
  };
  const json = <T>(out: { stdout: string }) => JSON.parse(out.stdout) as T;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'strata-contracts-cli-'));
    env = { ...process.env, USER: 'ann' };
    const url = await mode.url();
    if (url) env.DATABASE_URL = url;
    else delete env.DATABASE_URL;
    await writeCatalog(catalogDir(), {
      datasets: {
        sites: {
          format: 'csv',
          columns: [
            { name: 'id', type: 'integer', required: true, unique: true },
            { name: 'name', type: 'text', required: true },
            { name: 'population', type: 'bigint', min: 0 },
            { name: 'lon', type: 'double' },
            { name: 'lat', type: 'double' },
          ],
          geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat' },
          change: { maxFewerRows: '20%' },
        },
        areas_refuse: areas('refuse'),
        areas_repair: areas('repair'),
        areas_keep: areas('keep'),
      },
      products: {
        site_count: {
          product: { inputs: { sites: 'sites' }, outputs: [{ table: 'out', formats: ['csv'] }] },
          sql: { '010_out.sql': 'CREATE TABLE out AS SELECT count(*)::int AS n FROM sites;' },
        },
      },
    });
  });
  afterAll(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  it(
    'A, B, then A again makes A current again; promote rolls back; history and the plan follow',
    async () => {
      // Prepare
      const a = await file('a.csv', sites(10));
      const b = await file('b.csv', sites(9, 100));

      // Act
      const first = await strata('--json', 'ingest', 'sites', a);
      const second = await strata('--json', 'ingest', 'sites', b);
      const again = await strata('ingest', 'sites', a);

      // Assess
      expect(first.code).toBe(0);
      const va = json<{ run: Run }>(first).run.result!.version as string;
      const secondRun = json<{ ok: boolean; run: Run }>(second).run;
      const vb = secondRun.result!.version as string;
      expect(secondRun.result!.current).toEqual(
        expect.objectContaining({ version: vb, previous: va, changed: true }),
      );
      expect(again.code).toBe(0);
      expect(again.stderr).toContain(`same bytes as version ${va}: ${va} is current again (was ${vb})`);

      const history = await strata('datasets', 'history', 'sites');
      expect(history.code).toBe(0);
      const rows = history.stdout.trim().split('\n').slice(1);
      expect(rows.map((r) => r.split(/\s{2,}/)[1])).toEqual(['sent', 'sent', 'resent']);
      expect(rows[2]).toContain('user ann (cli)');
      expect(history.stderr).toContain(`current: ${va}`);

      const promoted = await strata('datasets', 'promote', 'sites', vb, '--reason', 'A was sent by mistake');
      expect(promoted.code).toBe(0);
      expect(promoted.stderr).toContain(`dataset sites: ${vb} is now current (was ${va})`);
      const plan = json<{ inputs: { version: string; requested: string }[] }>(
        await strata('--json', 'build', 'site_count', '--plan'),
      );
      expect(plan.inputs[0]).toMatchObject({ requested: 'latest', version: vb });
      const versions = await strata('versions', 'sites');
      expect(versions.stdout.split('\n').find((l) => l.startsWith(vb))).toMatch(/^\S+\s+\*\s/);
    },
    SLOW,
  );

  it(
    'refuses an empty CSV and an empty GeoJSON with a clear reason, and the current version stays',
    async () => {
      const emptyCsv = await strata('ingest', 'sites', await file('empty.csv', `${header}\n`));
      const emptyGeoJson = await strata('ingest', 'areas_keep', await file('empty.geojson', collection([])));
      const plan = json<{ inputs: { version: string }[] }>(
        await strata('--json', 'build', 'site_count', '--plan'),
      );

      expect(emptyCsv.code).toBe(1);
      expect(emptyCsv.stderr).toMatch(
        /empty\.csv: the file has no rows; dataset "sites" needs at least 1 row \(minRows; `allowEmpty: true` accepts an empty file\)/,
      );
      expect(emptyCsv.stderr).toMatch(
        /the file is quarantined as sites\/\S+, not a version, and the current version is unchanged/,
      );
      expect(emptyGeoJson.code).toBe(1);
      expect(emptyGeoJson.stderr).toMatch(
        /the file has no features; dataset "areas_keep" needs at least 1 feature/,
      );
      expect(plan.inputs[0]!.version).toMatch(/\S/);
      const history = json<{ current: string; events: unknown[] }>(
        await strata('--json', 'datasets', 'history', 'sites'),
      );
      expect(plan.inputs[0]!.version).toBe(history.current);
      expect(history.events).toHaveLength(4);
    },
    SLOW,
  );

  it(
    'refuses, repairs or keeps a bow-tie polygon as each dataset says',
    async () => {
      const bowTie = collection([{ type: 'Point', coordinates: [1, 1] }, BOW_TIE]);
      const refused = await strata('ingest', 'areas_refuse', await file('refuse.geojson', bowTie));
      const repaired = await strata('--json', 'ingest', 'areas_repair', await file('repair.geojson', bowTie));
      const kept = await strata('ingest', 'areas_keep', await file('keep.geojson', bowTie));

      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /feature 1, column "geometry": 1 feature with invalid geometry .*at feature 1 \(Self-intersection\[5 5\]\)/,
      );
      expect(repaired.code).toBe(0);
      const receipt = json<{ run: Run }>(repaired).run.result!.receipt as { geometry: unknown };
      expect(receipt.geometry).toEqual({
        policy: 'repair',
        invalid: 1,
        repaired: 1,
        kept: 0,
        at: [{ feature: 1, detail: 'Self-intersection[5 5]' }],
      });
      expect(kept.code).toBe(0);
      expect(kept.stderr).toMatch(/1 invalid geometry kept/);
      expect(kept.stderr).toMatch(
        /warning: 1 invalid geometry kept as sent \(invalidGeometry: keep\), at feature 1 \(Self-intersection\[5 5\]\)/,
      );
    },
    SLOW,
  );

  it(
    'gives a file with many bad rows a receipt of every kind, and lets an operator list and release quarantined files',
    async () => {
      // Prepare: 200 rows; every tenth from row 50 has a population that is not a number, one a bad latitude.
      const lines = [header, ...Array.from({ length: 200 }, (_, k) => site(k + 1))];
      for (let r = 50; r <= 200; r += 10) lines[r] = `${r},Site ${r},unknown,-1,52`;
      lines[199] = '199,Site 199,5,-1,91';

      // Act
      const bad = await strata('ingest', 'sites', await file('bad.csv', `${lines.join('\n')}\n`));
      const run = /\(run (\S+)\)/.exec(bad.stderr)![1]!;
      const shown = await strata('runs', 'show', run);
      const listed = await strata('--json', 'quarantine', 'list', '--dataset', 'sites');

      // Assess: the refusal names every kind with counts and first lines, and so does `runs show`.
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain(
        '16 rows with a non-numeric population, first at lines 51, 61, 71, 81, 91, ...',
      );
      expect(bad.stderr).toContain('1 row with a latitude (lat) outside -90..90');
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(
        /receipt: bad\.csv \(\d+ bytes, sha256 \w+\) quarantined as sites\/\S+: 2 kind\(s\) of problem/,
      );
      expect(shown.stdout).toContain(
        '16 rows with a non-numeric population, first at lines 51, 61, 71, 81, 91, ...',
      );
      expect(shown.stdout).toContain('line 51: "unknown"');
      const entries = json<{ dataset: string; id: string; file: { filename: string } }[]>(listed);
      expect(entries.map((e) => e.file.filename).sort()).toEqual(['bad.csv', 'empty.csv']);

      // The empty file broke only a rule an operator may waive: released, it becomes the current version.
      const empty = entries.find((e) => e.file.filename === 'empty.csv')!;
      const released = await strata(
        'quarantine',
        'release',
        `${empty.dataset}/${empty.id}`,
        '--reason',
        'closed for winter',
      );
      expect(released.code).toBe(0);
      expect(released.stderr).toContain(`released sites/${empty.id}: version ${empty.id} is current`);
      // The bad file cannot be: its values do not fit its columns. It stays in quarantine, never current.
      const notReleased = await strata(
        'quarantine',
        'release',
        entries.find((e) => e.file.filename === 'bad.csv')!.id,
        '--reason',
        'try',
      );
      expect(notReleased.code).toBe(1);
      expect(notReleased.stderr).toContain('the release needs the catalog to take these values first');
      const history = json<{ current: string; events: { kind: string; reason?: string }[] }>(
        await strata('--json', 'datasets', 'history', 'sites'),
      );
      expect(history.current).toBe(empty.id);
      expect(history.events.at(-1)).toMatchObject({ kind: 'released', reason: 'closed for winter' });
      expect(
        json<unknown[]>(await strata('--json', 'quarantine', 'list', '--dataset', 'sites')),
      ).toHaveLength(1);
    },
    SLOW,
  );

  it(
    'refuses a file far smaller than the current version (change.maxFewerRows)',
    async () => {
      await strata('ingest', 'sites', await file('ten.csv', sites(10, 500)));
      const seven = await strata('ingest', 'sites', await file('seven.csv', sites(7, 500)));

      expect(seven.code).toBe(1);
      expect(seven.stderr).toMatch(
        /the file has 7 rows, 30% fewer than the current version \S+ \(10\); change\.maxFewerRows allows 20%/,
      );
    },
    SLOW,
  );
});
