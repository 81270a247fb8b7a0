import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentVersion, listVersions, receiveFile } from '../../runtime/archive/archive.ts';
import { checkArchive, isDamage } from '../../runtime/archive/check.ts';
import { history, syncEvents } from '../../runtime/archive/current.ts';
import { listQuarantine, recordRelease } from '../../runtime/archive/quarantine.ts';
import { Receipt } from '../../runtime/archive/receipt.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { promote } from '../../runtime/contracts/promote.ts';
import { executeJob } from '../../runtime/jobs/execute.ts';
import { releaseFromQuarantine } from '../../runtime/jobs/release.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { readJson } from '../../runtime/ports/object-store.ts';
import { planBuild } from '../../runtime/products/plan.ts';
import type { Run, Trigger } from '../../runtime/runs/schema.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { BOW_TIE } from '../helpers/geometries.ts';
import { receiptOf, sendFile } from '../helpers/ingest.ts';

const sitesColumns = [
  { name: 'id', type: 'integer', required: true, unique: true },
  { name: 'name', type: 'text', required: true },
  { name: 'population', type: 'bigint', min: 0 },
  { name: 'kind', type: 'text', values: ['town', 'city'] },
  { name: 'lon', type: 'double' },
  { name: 'lat', type: 'double' },
];
const csv = (rows: string[]) => `id,name,population,kind,lon,lat\n${rows.join('\n')}\n`;
const site = (i: number) => `${i},Site ${i},${i * 10},town,${-1 + i / 10000},${52 + i / 10000}`;
const sites = (n: number, from = 1) => csv(Array.from({ length: n }, (_, k) => site(from + k)));

const SQUARE = {
  type: 'Polygon',
  coordinates: [
    [
      [0, 0],
      [1, 0],
      [1, 1],
      [0, 1],
      [0, 0],
    ],
  ],
};
const featureCollection = (features: unknown[]) => JSON.stringify({ type: 'FeatureCollection', features });
const feature = (code: unknown, geometry: unknown, score: unknown = 1) => ({
  type: 'Feature',
  properties: { code, score },
  geometry,
});
const areas = (policy: string, extra: Record<string, unknown> = {}) => ({
  format: 'geojson',
  columns: [
    { name: 'code', type: 'text', required: true },
    { name: 'score', type: 'integer' },
  ],
  geometry: { kind: 'geojson' },
  invalidGeometry: policy,
  ...extra,
});

describe.each(engines())('data contracts and the current version on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  let n = 0;
  const file = async (name: string, body: string) => {
    const path = join(p.dir, `${++n}-${name}`);
    await writeFile(path, body);
    return path;
  };
  const send = (dataset: string, name: string, body: string, trigger?: Trigger): Promise<Run> =>
    sendFile(p, catalog, dataset, name, body, trigger);
  const current = async (dataset: string) => (await currentVersion(p.db, dataset))?.version;

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await writeCatalog(join(p.dir, 'catalog'), {
      datasets: {
        sites: { format: 'csv', columns: sitesColumns, geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat' } },
        guarded: {
          format: 'csv',
          columns: sitesColumns,
          geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat' },
          change: { maxFewerRows: '20%', columnRemoved: 'refuse' },
          bbox: [-2, 51, 0, 53],
        },
        optional: {
          format: 'csv',
          columns: [{ name: 'id', type: 'integer' }],
          geometry: { kind: 'none' },
          allowEmpty: true,
        },
        areas_refuse: areas('refuse'),
        areas_repair: areas('repair'),
        areas_keep: areas('keep'),
        polygons_repair: areas('repair', { geometry: { kind: 'geojson', type: 'Polygon' } }),
        grid_points: {
          format: 'csv',
          columns: [
            { name: 'x', type: 'double' },
            { name: 'y', type: 'double' },
          ],
          geometry: { kind: 'lonlat', lon: 'x', lat: 'y', sourceSrid: 27700, targetSrid: 27700 },
        },
        parcels: {
          format: 'csv',
          columns: [
            { name: 'ref', type: 'text', required: true },
            { name: 'wkt', type: 'text' },
          ],
          geometry: { kind: 'wkt', column: 'wkt' },
          invalidGeometry: 'repair',
        },
      },
      products: {
        site_count: {
          product: { inputs: { sites: 'sites' }, outputs: [{ table: 'out', formats: ['csv'] }] },
          sql: { '010_out.sql': 'CREATE TABLE out AS SELECT count(*)::int AS n FROM sites;' },
        },
      },
    });
  });
  afterAll(async () => p?.close());

  it('follows what was sent: A, B, then A again makes A current again, recorded with who and when', async () => {
    // Prepare: two files, A (3 rows) and B (2 rows).
    const fileA = sites(3);
    const fileB = sites(2, 100);
    const entry = catalog.products.get('site_count')!;

    // Act: A from a user, B from a partner's upload, then A again from the user.
    const a = await send('sites', 'a.csv', fileA);
    const b = await send('sites', 'b.csv', fileB, { kind: 'upload', by: 'acme' });
    const lockB = await planBuild(p.db, entry);
    const again = await send('sites', 'a-again.csv', fileA);

    // Assess: a is current again, as its own event; builds read it; the view shows it.
    const va = String(a.result!.version);
    const vb = String(b.result!.version);
    expect(a.result!.current).toMatchObject({ version: va, previous: null, changed: true });
    expect(lockB[0]).toMatchObject({ requested: 'latest', version: vb, rows: 2 });
    expect(again.status).toBe('succeeded');
    expect(again.result).toMatchObject({
      created: false,
      version: va,
      current: { version: va, previous: vb, changed: true },
    });
    expect(await current('sites')).toBe(va);
    expect((await planBuild(p.db, entry))[0]).toMatchObject({ version: va, rows: 3 });
    const [view] = await p.db.query<{ n: number }>('SELECT count(*)::int AS n FROM datasets.sites');
    expect(view!.n).toBe(3);
    const events = await history(p.db, 'sites');
    expect(events.map((e) => [e.kind, e.version, e.previous])).toEqual([
      ['sent', va, null],
      ['sent', vb, va],
      ['resent', va, vb],
    ]);
    expect(events.map((e) => e.actor)).toEqual([
      { trigger: 'cli', user: 'ann' },
      { trigger: 'upload', partner: 'acme' },
      { trigger: 'cli', user: 'ann' },
    ]);
    expect(events[2]!.run).toBe(again.id);
    expect(Date.parse(events[2]!.at)).toBeGreaterThan(Date.parse(events[1]!.at));
    // The archive holds the same: the pointer, and each event once.
    const pointer = await readJson<{ version: string; event: string }>(
      p.store,
      'archive',
      'datasets/sites/current.json',
    );
    expect(pointer).toMatchObject({ version: va, event: events[2]!.id });
    expect((await p.store.list('archive', 'datasets/sites/events/')).length).toBe(3);
    // Sending what is current again changes nothing and says so.
    const same = await send('sites', 'a-third.csv', fileA);
    expect(same.result!.current).toMatchObject({ version: va, changed: false });
    expect(await history(p.db, 'sites')).toHaveLength(3);
    // The versions listing marks the current one.
    expect((await listVersions(p.db, 'sites')).filter((v) => v.current).map((v) => v.version)).toEqual([va]);
    // The receipt of an accepted file: version, rows, columns, CRS, bbox, change against the previous current.
    const receipt = receiptOf(b);
    expect(receipt).toMatchObject({
      status: 'accepted',
      version: vb,
      rows: 2,
      crs: 'EPSG:4326',
      change: { against: va, rowsBefore: 3, rowsAfter: 2 },
      problems: [],
    });
    expect(receipt.columns.map((c) => c.name)).toEqual(sitesColumns.map((c) => c.name));
    // Read from the spatial index: to float precision, rounded outward.
    expect(receipt.bbox![0]).toBeLessThanOrEqual(-0.99);
    expect(receipt.bbox![0]).toBeCloseTo(-0.99, 4);
    expect(receipt.bbox![3]).toBeGreaterThanOrEqual(52.0101);
    expect(receipt.bbox![3]).toBeCloseTo(52.0101, 4);
  });

  it('promotes an older version with a reason, and a rebuilt database knows what is current from the archive', async () => {
    const versions = await listVersions(p.db, 'sites');
    const older = versions.find((v) => !v.current)!;

    const { current: moved } = await promote(p, catalog.datasets.get('sites')!, older.version, {
      reason: 'the newer file was a test',
      actor: { trigger: 'cli', user: 'ops' },
    });

    expect(moved).toMatchObject({ version: older.version, changed: true });
    const last = (await history(p.db, 'sites')).at(-1)!;
    expect(last).toMatchObject({
      kind: 'promoted',
      version: older.version,
      reason: 'the newer file was a test',
      actor: { user: 'ops' },
    });
    expect((await planBuild(p.db, catalog.products.get('site_count')!))[0]!.version).toBe(older.version);

    // The database forgets every event, as a rebuilt one would; the archive tells it again.
    await p.db.query('DELETE FROM strata.dataset_events WHERE dataset = $1', ['sites']);
    expect(await syncEvents(p.db, p.store, 'sites')).toBe(4);
    expect(await current('sites')).toBe(older.version);
  });

  it('refuses a header-only CSV and an empty FeatureCollection, keeping what was current', async () => {
    const before = await current('sites');
    await send('areas_keep', 'one.geojson', featureCollection([feature('a', SQUARE)]));
    const areasBefore = await current('areas_keep');

    const emptyCsv = await send('sites', 'empty.csv', csv([]));
    const emptyGeoJson = await send('areas_keep', 'empty.geojson', featureCollection([]));

    expect(emptyCsv.status).toBe('failed');
    expect(String(emptyCsv.error!.message)).toMatch(
      /empty\.csv: the file has no rows; dataset "sites" needs at least 1 row \(minRows; `allowEmpty: true` accepts an empty file\); the file is quarantined/,
    );
    expect(receiptOf(emptyCsv)).toMatchObject({
      status: 'quarantined',
      rows: 0,
      problems: [{ rule: 'min_rows' }],
    });
    expect(String(emptyGeoJson.error!.message)).toMatch(
      /the file has no features; dataset "areas_keep" needs at least 1 feature/,
    );
    expect(await current('sites')).toBe(before);
    expect(await current('areas_keep')).toBe(areasBefore);
    // A dataset that allows empty files takes one.
    const allowed = await send('optional', 'none.csv', 'id\n');
    expect(allowed.status).toBe('succeeded');
    expect(allowed.result).toMatchObject({ rows: 0, current: { changed: true } });
  });

  it('refuses a bow-tie polygon by default, naming the feature and PostGIS’s reason', async () => {
    const run = await send(
      'areas_refuse',
      'bowtie.geojson',
      featureCollection([feature('a', SQUARE), feature('b', BOW_TIE)]),
    );

    expect(run.status).toBe('failed');
    expect(String(run.error!.message)).toMatch(
      /feature 1, column "geometry": 1 feature with invalid geometry \(invalidGeometry: refuse; repair or keep accept it\), at feature 1 \(Self-intersection\[5 5\]\)/,
    );
    const receipt = receiptOf(run);
    expect(receipt.problems).toEqual([
      expect.objectContaining({
        rule: 'invalid_geometry',
        count: 1,
        at: [{ feature: 1, detail: 'Self-intersection[5 5]' }],
      }),
    ]);
    expect(receipt.geometry).toMatchObject({ policy: 'refuse', invalid: 1, repaired: 0, kept: 0 });
    expect(await current('areas_refuse')).toBeUndefined();
  });

  it('repairs a bow-tie with ST_MakeValid (structure), and counts it in the run and its receipt', async () => {
    const run = await send(
      'areas_repair',
      'bowtie.geojson',
      featureCollection([feature('a', SQUARE), feature('b', BOW_TIE)]),
    );

    expect(run.status).toBe('succeeded');
    const receipt = receiptOf(run);
    expect(receipt.geometry).toEqual({
      policy: 'repair',
      invalid: 1,
      repaired: 1,
      kept: 0,
      at: [{ feature: 1, detail: 'Self-intersection[5 5]' }],
    });
    expect(receipt.warnings[0]).toBe(
      '1 invalid geometry repaired with ST_MakeValid (structure method), at feature 1 (Self-intersection[5 5])',
    );
    const rows = await p.db.query<{ code: string; valid: boolean; wkt: string }>(
      `SELECT code, ST_IsValid(geom) AS valid, ST_AsText(geom) AS wkt FROM datasets."${String(run.result!.table)}" ORDER BY code`,
    );
    expect(rows.map((r) => r.valid)).toEqual([true, true]);
    expect(rows[1]!.wkt).toBe('MULTIPOLYGON(((5 5,10 10,10 0,5 5)),((0 0,0 10,5 5,0 0)))');
  });

  it('keeps a bow-tie with a warning when told to', async () => {
    const run = await send('areas_keep', 'bowtie.geojson', featureCollection([feature('b', BOW_TIE)]));

    expect(run.status).toBe('succeeded');
    expect(receiptOf(run).geometry).toMatchObject({ policy: 'keep', invalid: 1, repaired: 0, kept: 1 });
    expect(receiptOf(run).warnings[0]).toMatch(/1 invalid geometry kept as sent \(invalidGeometry: keep\)/);
    const [row] = await p.db.query<{ valid: boolean }>(
      `SELECT ST_IsValid(geom) AS valid FROM datasets."${String(run.result!.table)}"`,
    );
    expect(row!.valid).toBe(false);
  });

  it('refuses a repair that would not fit the declared geometry type, and repairs a WKT column in place', async () => {
    const polygon = await send(
      'polygons_repair',
      'bowtie.geojson',
      featureCollection([feature('b', BOW_TIE)]),
    );
    const wkt = await send(
      'parcels',
      'parcels.csv',
      'ref,wkt\nP1,"POLYGON((0 0,10 10,10 0,0 10,0 0))"\nP2,"POINT(1 1)"\n',
    );

    expect(polygon.status).toBe('failed');
    expect(receiptOf(polygon).problems[0]).toMatchObject({
      rule: 'invalid_geometry',
      message: expect.stringMatching(
        /1 feature with invalid geometry that a repair would not keep a Polygon/,
      ),
    });
    expect(wkt.status).toBe('succeeded');
    expect(receiptOf(wkt).geometry).toMatchObject({
      repaired: 1,
      at: [{ line: 2, detail: 'Self-intersection[5 5]' }],
    });
    const [row] = await p.db.query<{ t: string }>(
      `SELECT GeometryType(geom) AS t FROM datasets."${String(wkt.result!.table)}" WHERE ref = 'P1'`,
    );
    expect(row!.t).toBe('MULTIPOLYGON');
  });

  it('refuses a point whose coordinate is not a finite number', async () => {
    const run = await send('grid_points', 'grid.csv', 'x,y\n430000,433000\nNaN,433000\n');

    expect(run.status).toBe('failed');
    expect(receiptOf(run).problems).toEqual([
      expect.objectContaining({
        rule: 'invalid_geometry',
        count: 1,
        at: [{ line: 3, detail: 'a coordinate is not a finite number' }],
      }),
    ]);
  });

  it('lists every problem of a file with many bad rows, counted per kind with the first lines', async () => {
    // Prepare: 6,000 records; one name spans two lines, so records and lines differ by one after it.
    const rows = Array.from({ length: 6000 }, (_, k) => site(k + 1));
    rows[1] = '2,"two\nlines",20,town,-1,52';
    const line = (record: number) => record + 2; // record k (from 1) starts on line k + 1, plus the header
    const nonNumeric: number[] = [];
    for (let r = 4999; r < 4999 + 312 * 3; r += 3) {
      rows[r - 1] = `${r},Site ${r},n/a,town,-1,52`;
      nonNumeric.push(line(r));
    }
    rows[5999] = '6000,,5,town,-1,52'; // no name
    rows[5998] = '5,Again,5,town,-1,52'; // id 5 again
    rows[5997] = '5998,Village,5,village,-1,52';
    rows[5996] = '5997,North,5,town,-1,95';
    rows[5995] = '5996,Short,5,town,-1';
    rows[5994] = '5995,Negative,-4,town,-1,52';

    const run = await send('sites', 'many-bad.csv', csv(rows));

    // Assess: every kind, with its count and first lines, in the run and beside the quarantined file.
    expect(run.status).toBe('failed');
    const receipt = receiptOf(run);
    const byRule = Object.fromEntries(receipt.problems.map((x) => [`${x.rule}:${x.column ?? ''}`, x]));
    expect(byRule['type:population']).toMatchObject({
      count: 312,
      message: `312 rows with a non-numeric population, first at lines ${nonNumeric.slice(0, 5).join(', ')}, ...`,
    });
    expect(byRule['type:population']!.at[0]).toEqual({
      line: nonNumeric[0],
      value: 'n/a',
      key: { column: 'id', value: '4999' },
    });
    expect(byRule['required:name']).toMatchObject({ count: 1, at: [{ line: line(6000) }] });
    expect(byRule['unique:id']).toMatchObject({ count: 1, at: [{ line: line(5999), value: '5' }] });
    expect(byRule['values:kind']).toMatchObject({ count: 1, at: [{ line: line(5998), value: 'village' }] });
    expect(byRule['range:lat']).toMatchObject({ count: 1, at: [{ line: line(5997), value: '95' }] });
    expect(byRule['fields:']).toMatchObject({ count: 1, at: [{ line: line(5996), value: '5 fields' }] });
    expect(byRule['min:population']).toMatchObject({ count: 1, at: [{ line: line(5995), value: '-4' }] });
    expect(receipt.problems).toHaveLength(7);
    expect(receipt).toMatchObject({
      status: 'quarantined',
      rows: 6000,
      quarantine: { id: `sites/${receipt.version}` },
    });
    // Kept for good: the bytes where they were received, the receipt and metadata in quarantine.
    const prefix = `quarantine/sites/${receipt.version}/`;
    expect(Receipt.parse(await readJson(p.store, 'archive', `${prefix}receipt.json`))).toEqual(receipt);
    expect(await readJson(p.store, 'archive', `${prefix}metadata.json`)).toMatchObject({
      id: receipt.version,
      run: run.id,
    });
    expect(await p.store.exists('archive', `datasets/sites/${receipt.version}/many-bad.csv`)).toBe(true);
    expect(await p.store.exists('archive', `datasets/sites/${receipt.version}/metadata.json`)).toBe(false);
    expect((await listVersions(p.db, 'sites')).some((v) => v.version === receipt.version)).toBe(false);
  });

  it('quarantines a file it cannot read row by row with the one problem that stopped it', async () => {
    const run = await send('sites', 'renamed.csv', 'id,name,pop,kind,lon,lat\n1,One,1,town,-1,52\n');

    expect(run.status).toBe('failed');
    expect(receiptOf(run)).toMatchObject({
      status: 'quarantined',
      problems: [
        {
          rule: 'header',
          count: 1,
          at: [{ line: 1 }],
          message: expect.stringMatching(/column "pop" is not declared/),
        },
      ],
    });
  });

  it('lists every bad feature of a GeoJSON file, those JavaScript finds and those PostgreSQL finds', async () => {
    const run = await send(
      'areas_refuse',
      'bad.geojson',
      featureCollection([
        feature('a', SQUARE),
        feature('b', SQUARE, 'high'),
        feature(null, SQUARE),
        feature('d', { type: 'Polygon', coordinates: [[[0, 'x']]] }),
        feature('e', BOW_TIE),
        feature('f', SQUARE, 'low'),
        feature('g', { type: 'Point', coordinates: [1, 2, 3] }),
      ]),
    );

    const problems = receiptOf(run).problems.map((x) => [x.rule, x.count, x.at.map((a) => a.feature)]);
    expect(problems).toEqual([
      ['geometry', 1, [3]],
      ['required', 1, [2]],
      ['type', 2, [1, 5]],
      ['dimensions', 1, [6]],
      ['invalid_geometry', 1, [4]],
    ]);
  });

  it('holds a file to its change limits and bbox against the current version', async () => {
    const first = await send('guarded', 'ten.csv', sites(10));
    const fewer = await send('guarded', 'seven.csv', sites(7));
    const emptied = await send(
      'guarded',
      'emptied.csv',
      csv(Array.from({ length: 10 }, (_, k) => `${k + 1},S,,town,-1,52`)),
    );
    const outside = await send(
      'guarded',
      'outside.csv',
      csv([...Array.from({ length: 9 }, (_, k) => site(k + 1)), '10,Far,1,town,5,52']),
    );
    const nine = await send('guarded', 'nine.csv', sites(9));

    expect(first.status).toBe('succeeded');
    expect(receiptOf(fewer).problems).toEqual([
      expect.objectContaining({
        rule: 'fewer_rows',
        message: expect.stringMatching(
          /the file has 7 rows, 30% fewer than the current version .* \(10\); change.maxFewerRows allows 20%/,
        ),
      }),
    ]);
    expect(receiptOf(fewer).change).toMatchObject({ rowsBefore: 10, rowsAfter: 7, rowsPercent: -30 });
    expect(receiptOf(emptied).problems).toEqual([
      expect.objectContaining({ rule: 'column_removed', column: 'population' }),
    ]);
    expect(receiptOf(outside).problems).toEqual([
      expect.objectContaining({ rule: 'bbox', count: 1, at: [expect.objectContaining({ line: 11 })] }),
    ]);
    expect(nine.status).toBe('succeeded');
    // The 10-row file again: 11% more than the 9 current, allowed; it is current again.
    expect((await send('guarded', 'ten-again.csv', sites(10))).result!.current).toMatchObject({
      changed: true,
    });
    expect(await current('guarded')).toBe(first.result!.version);
  });

  it('releases a quarantined file as a version, current as if sent, and never before', async () => {
    const fewer = (await listQuarantine(p.db, { dataset: 'guarded', released: false })).find((e) =>
      e.file.filename.endsWith('seven.csv'),
    )!;
    const before = await current('guarded');
    // Sending the same bytes again does not get past quarantine.
    const again = await send('guarded', 'seven-again.csv', sites(7));
    expect(String(again.error!.message)).toMatch(
      /same bytes as the file quarantined as guarded\/.*: still quarantined/,
    );
    expect(await current('guarded')).toBe(before);

    const run = await releaseFromQuarantine(p, catalog, `guarded/${fewer.id}`, {
      reason: 'the depot closed three sites',
      actor: { trigger: 'cli', user: 'ops' },
      trigger: { kind: 'cli', by: 'ops' },
    });

    expect(run.status).toBe('succeeded');
    expect(run.result).toMatchObject({
      version: fewer.id,
      rows: 7,
      current: { version: fewer.id, previous: before, changed: true },
    });
    expect(await current('guarded')).toBe(fewer.id);
    expect((await history(p.db, 'guarded')).at(-1)).toMatchObject({
      kind: 'released',
      reason: 'the depot closed three sites',
      actor: { user: 'ops' },
    });
    expect(await readJson(p.store, 'archive', `quarantine/guarded/${fewer.id}/release.json`)).toMatchObject({
      reason: 'the depot closed three sites',
      version: fewer.id,
    });
    expect((await listVersions(p.db, 'guarded')).find((v) => v.version === fewer.id)).toMatchObject({
      rowCount: 7,
    });
    expect(await listQuarantine(p.db, { dataset: 'guarded', released: false })).not.toContainEqual(
      expect.objectContaining({ id: fewer.id }),
    );
    // A second release of the same file, by a run that read it before this one was recorded (two operators
    // at once): refused, and the first release stands.
    await expect(
      recordRelease(p.db, p.store, fewer, {
        releasedAt: new Date().toISOString(),
        actor: { trigger: 'console', user: 'someone else' },
        reason: 'at the same moment',
        run: 'another-run',
        version: fewer.id,
      }),
    ).rejects.toThrow(new RegExp(`released by run ${run.id} already`));
    expect(await readJson(p.store, 'archive', `quarantine/guarded/${fewer.id}/release.json`)).toMatchObject({
      run: run.id,
    });

    // A version sent again is held to the change limits too: 7 rows against the current 10 is refused,
    // stays a version, and does not become current.
    const ten = await send('guarded', 'ten-once-more.csv', sites(10));
    const back = await send('guarded', 'seven-once-more.csv', sites(7));
    expect(back.status).toBe('failed');
    expect(receiptOf(back)).toMatchObject({
      status: 'refused',
      version: fewer.id,
      problems: [{ rule: 'fewer_rows' }],
    });
    expect(String(back.error!.message)).toMatch(/does not become current/);
    expect(await current('guarded')).toBe(ten.result!.version);
  });

  it('takes up the bytes of an ingest that stopped before its load finished, rather than copying them again', async () => {
    const path = await file('pending.csv', sites(4, 900));
    const origin = { kind: 'file' as const, from: path };

    const first = await receiveFile(p.db, p.store, { dataset: 'sites', path, origin });
    const again = await receiveFile(p.db, p.store, { dataset: 'sites', path, origin });
    const sent = await send('sites', 'pending-again.csv', sites(4, 900));

    expect(first).toMatchObject({ state: 'new', copied: true });
    expect(again).toMatchObject({ state: 'new', copied: false, version: { version: first.version.version } });
    expect(sent.result).toMatchObject({ version: first.version.version, created: true, rows: 4 });
    const folders = (await p.store.list('archive', 'datasets/sites/'))
      .map((o) => o.key.split('/')[2])
      .filter((v) => v?.endsWith(first.version.sha256.slice(0, 8)));
    expect(new Set(folders)).toEqual(new Set([first.version.version]));
  });

  it('tells quarantined files from unfinished ingests when the archive is checked', async () => {
    const report = await checkArchive(p.db, p.store, ['sites'], { verify: true });

    expect(report.findings.filter(isDamage)).toEqual([]);
    const kinds = report.findings.map((f) => f.kind);
    expect(kinds.filter((k) => k === 'quarantined').length).toBe(
      (await listQuarantine(p.db, { dataset: 'sites', released: false })).length,
    );
    expect(kinds).not.toContain('incomplete');
  });

  it('builds nothing from a quarantined file, and rebuilds when the current version moves', async () => {
    const builds = async () => (await p.runs.list({ kind: 'build', target: 'site_count' })).length;
    const before = await builds();
    const path = await file('bad.csv', csv(['1,One,lots,town,-1,52']));
    const queued = await submit(
      p,
      { kind: 'ingest', dataset: 'sites', source: { path }, filename: 'bad.csv' },
      { kind: 'cli' },
    );
    const [job] = await p.queue.receive(1, 60);
    expect(job!.job.runId).toBe(queued.id);
    const refused = await executeJob(p, catalog, job!.job, {}, { rebuildDependents: true });
    await p.queue.delete(job!.receipt);
    expect(refused.status).toBe('failed');
    expect(await builds()).toBe(before);

    // The bytes of a version that is not current (A, after B was promoted), sent again: it moves, and its
    // product is rebuilt.
    const notCurrent = (await listVersions(p.db, 'sites')).find((v) => !v.current && v.rowCount === 3)!;
    const resentPath = await file('a-again.csv', sites(3));
    const resent = await submit(
      p,
      { kind: 'ingest', dataset: 'sites', source: { path: resentPath }, filename: 'a.csv' },
      { kind: 'cli' },
    );
    const [job2] = await p.queue.receive(1, 60);
    expect(job2!.job.runId).toBe(resent.id);
    await executeJob(p, catalog, job2!.job, {}, { rebuildDependents: true });
    await p.queue.delete(job2!.receipt);
    expect(await current('sites')).toBe(notCurrent.version);
    expect(await builds()).toBe(before + 1);
  });
});
