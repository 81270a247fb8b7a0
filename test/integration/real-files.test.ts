import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentVersion } from '../../runtime/archive/archive.ts';
import { checkArchive, isDamage } from '../../runtime/archive/check.ts';
import { getQuarantined, listQuarantine, syncQuarantine } from '../../runtime/archive/quarantine.ts';
import { Receipt } from '../../runtime/archive/receipt.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { releaseFromQuarantine } from '../../runtime/jobs/release.ts';
import { latestJudgedKey, quarantinePrefix } from '../../runtime/layout/buckets.ts';
import { readJson } from '../../runtime/ports/object-store.ts';
import type { Run } from '../../runtime/runs/schema.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { convert, type Feature, geojsonFile, shapefileZip, zipOf } from '../helpers/gdal.ts';
import { BOW_TIE } from '../helpers/geometries.ts';
import { receiptOf, sendFile } from '../helpers/ingest.ts';

/** Files as organisations hold them: GDAL formats with an invalid polygon, under every contract policy. */

const square = (x: number) => ({
  type: 'Polygon',
  coordinates: [
    [
      [x, 0],
      [x + 1, 0],
      [x + 1, 1],
      [x, 1],
      [x, 0],
    ],
  ],
});
/** Three parcels, the second a bow-tie (PostGIS: `Self-intersection[5 5]`). `Name` is what KML calls <name>. */
const PARCELS: Feature[] = [
  { properties: { Name: 'A', area: 1 }, geometry: square(20) },
  { properties: { Name: 'B', area: 2 }, geometry: BOW_TIE },
  { properties: { Name: 'C', area: 3 }, geometry: square(30) },
];

const FORMATS = ['gpkg', 'shapefile', 'flatgeobuf', 'kml', 'geojsonseq'] as const;
type GdalFormat = (typeof FORMATS)[number];

const parcels = (format: GdalFormat, policy: string) => ({
  format,
  columns: [
    { name: 'name', source: 'Name', type: 'text', required: true, unique: true },
    ...(format === 'kml' ? [] : [{ name: 'area', type: 'double' }]),
  ],
  geometry: { kind: 'geojson', sourceSrid: 4326 },
  invalidGeometry: policy,
});

describe.each(engines())('files as organisations hold them on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  const files: Partial<Record<GdalFormat, string>> = {};

  const send = async (dataset: string, path: string): Promise<Run> =>
    sendFile(p, catalog, dataset, basename(path), await readFile(path));

  beforeAll(async () => {
    p = await testPlatform(engine);
    const source = await geojsonFile(p.dir, 'parcels', PARCELS);
    files.gpkg = await convert(source, join(p.dir, 'parcels.gpkg'), 'GPKG', { layer: 'parcels' });
    const zip = join(p.dir, 'parcels.zip');
    await writeFile(zip, await shapefileZip(source, { name: 'parcels' }));
    files.shapefile = zip;
    // Unindexed: an indexed FlatGeobuf sorts its features, and the test names them by their order.
    files.flatgeobuf = await convert(source, join(p.dir, 'parcels.fgb'), 'FlatGeobuf', {
      extra: ['-lco', 'SPATIAL_INDEX=NO'],
    });
    files.kml = await convert(source, join(p.dir, 'parcels.kml'), 'KML', { layer: 'parcels' });
    files.geojsonseq = await convert(source, join(p.dir, 'parcels.geojsonl'), 'GeoJSONSeq');
    const datasets: Record<string, Record<string, unknown>> = {};
    for (const f of FORMATS)
      for (const policy of ['refuse', 'repair', 'keep']) datasets[`${f}_${policy}`] = parcels(f, policy);
    catalog = await writeCatalog(join(p.dir, 'catalog'), { datasets });
  });
  afterAll(async () => p?.close());

  /** Where the bow-tie is, as every receipt must say it: feature, layer, the unique column's value, PostGIS's reason. */
  const bowTie = (format: GdalFormat) =>
    expect.objectContaining({
      feature: 1,
      layer: format === 'gpkg' || format === 'shapefile' ? 'parcels' : expect.any(String),
      key: { column: 'Name', value: 'B' },
      detail: expect.stringMatching(/^Self-intersection\[5 5\]$/),
    });

  it.each(FORMATS)(
    'quarantines a %s with a bow-tie under refuse, naming the feature, and releases it',
    async (format) => {
      const run = await send(`${format}_refuse`, files[format]!);

      expect(run.status).toBe('failed');
      const receipt = receiptOf(run);
      expect(receipt.status).toBe('quarantined');
      expect(receipt.problems).toEqual([
        expect.objectContaining({ rule: 'invalid_geometry', count: 1, at: [bowTie(format)] }),
      ]);
      expect(receipt.problems[0]!.message).toMatch(/^1 feature with invalid geometry/);
      expect(receipt.geometry).toMatchObject({ policy: 'refuse', invalid: 1 });

      const [entry] = await listQuarantine(p.db, { dataset: `${format}_refuse`, released: false });
      const released = await releaseFromQuarantine(p, catalog, `${format}_refuse/${entry!.id}`, {
        reason: 'the surveyor confirms the parcel',
        actor: { trigger: 'cli', user: 'ops' },
        trigger: { kind: 'cli', by: 'ops' },
      });
      expect(released.status).toBe('succeeded');
      expect(released.result).toMatchObject({ rows: 3 });
      expect(receiptOf(released).geometry).toMatchObject({ invalid: 1, kept: 1, at: [bowTie(format)] });
    },
  );

  it.each(FORMATS)('repairs the bow-tie of a %s under repair, saying where it was', async (format) => {
    const run = await send(`${format}_repair`, files[format]!);

    expect(run.status).toBe('succeeded');
    const receipt = receiptOf(run);
    expect(receipt.geometry).toMatchObject({
      policy: 'repair',
      invalid: 1,
      repaired: 1,
      at: [bowTie(format)],
    });
    expect(receipt.warnings[0]).toMatch(
      /^1 invalid geometry repaired .*at feature 1 \(Self-intersection\[5 5\]\)/,
    );
    const [row] = await p.db.query<{ invalid: number }>(
      `SELECT count(*) FILTER (WHERE NOT ST_IsValid(geom))::int AS invalid FROM datasets."${String(run.result!.table)}"`,
    );
    expect(row!.invalid).toBe(0);
  });

  it.each(FORMATS)('keeps the bow-tie of a %s under keep, with a warning', async (format) => {
    const run = await send(`${format}_keep`, files[format]!);

    expect(run.status).toBe('succeeded');
    expect(receiptOf(run).geometry).toMatchObject({
      policy: 'keep',
      invalid: 1,
      kept: 1,
      at: [bowTie(format)],
    });
  });
});

describe.each(engines())('files of the wrong kind and hostile shapes on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  const send = (dataset: string, name: string, body: Buffer | string): Promise<Run> =>
    sendFile(p, catalog, dataset, name, body);
  const collection = (features: unknown[]) => JSON.stringify({ type: 'FeatureCollection', features });
  const point = (code: string, coordinates: unknown, extra: Record<string, unknown> = {}) => ({
    type: 'Feature',
    properties: { code, ...extra },
    geometry: { type: 'Point', coordinates },
  });

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await writeCatalog(join(p.dir, 'catalog'), {
      datasets: {
        sites: {
          format: 'csv',
          columns: [
            { name: 'id', type: 'integer' },
            { name: 'lon', type: 'double' },
            { name: 'lat', type: 'double' },
          ],
          geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat' },
        },
        areas: {
          format: 'geojson',
          columns: [{ name: 'code', type: 'text', unique: true }],
          geometry: { kind: 'geojson' },
        },
        parcels: {
          format: 'gpkg',
          columns: [{ name: 'code', type: 'text' }],
          geometry: { kind: 'geojson' },
        },
        // Stored in Web Mercator: a latitude of 95 must be refused before the reprojection fails on it.
        mercator: {
          format: 'geojson',
          columns: [{ name: 'code', type: 'text', unique: true }],
          geometry: { kind: 'geojson', targetSrid: 3857 },
        },
      },
    });
  });
  afterAll(async () => p?.close());

  it('refuses a zip sent as CSV, a PDF sent as GeoJSON and a workbook sent as a GeoPackage, saying what each is', async () => {
    const zip = await zipOf([{ name: 'sites.csv', data: Buffer.from('id,lon,lat\n1,0,0\n') }]);
    const workbook = await zipOf([
      { name: '[Content_Types].xml', data: Buffer.from('<Types/>') },
      { name: 'xl/workbook.xml', data: Buffer.from('<workbook/>') },
    ]);

    const runs = [
      await send('sites', 'sites.zip', zip),
      await send('areas', 'areas.geojson', '%PDF-1.7\n%\xe2\xe3\n1 0 obj\n'),
      await send('parcels', 'parcels.gpkg', workbook),
    ];

    expect(runs.map((r) => receiptOf(r).problems.map((x) => x.message))).toEqual([
      ['this is a zip archive; dataset "sites" takes CSV'],
      ['this is a PDF document; dataset "areas" takes GeoJSON'],
      [
        'this is an Office document (Excel, Word or PowerPoint: a zip of XML); dataset "parcels" takes a GeoPackage',
      ],
    ]);
    expect(runs.map((r) => receiptOf(r).status)).toEqual(['quarantined', 'quarantined', 'quarantined']);
    expect(String(runs[0]!.error!.message)).not.toMatch(/PK/);
  });

  it('quarantines a feature nested 100,000 deep and 200 nested GeometryCollections, naming each feature', async () => {
    const deep = `${'['.repeat(100_000)}1${']'.repeat(100_000)}`;
    let chained: unknown = { type: 'Point', coordinates: [1, 1] };
    for (let k = 0; k < 200; k++) chained = { type: 'GeometryCollection', geometries: [chained] };
    const nested = collection([point('fine', [1, 1]), point('deep', [2, 2], { x: '@' })]).replace(
      '"@"',
      deep,
    );
    const collections = collection([
      point('fine', [1, 1]),
      point('also fine', [2, 2]),
      { type: 'Feature', properties: { code: 'chained' }, geometry: chained },
    ]);

    const first = await send('areas', 'nested.geojson', nested);
    const second = await send('areas', 'collections.geojson', collections);

    for (const [run, feature] of [
      [first, 1],
      [second, 2],
    ] as const) {
      expect(run.status).toBe('failed');
      expect(String(run.error!.message)).not.toMatch(/INTERNAL|call stack|chained collections/);
      const receipt = receiptOf(run);
      expect(receipt.status).toBe('quarantined');
      expect(receipt.problems).toEqual([
        expect.objectContaining({
          count: 1,
          at: [
            expect.objectContaining({ feature, detail: expect.stringMatching(/more than 64 levels deep/) }),
          ],
        }),
      ]);
      expect(receipt.problems[0]!.message).toContain(`at feature ${feature}`);
    }
    // Both kept in quarantine with their receipts: no ingest left unfinished.
    const report = await checkArchive(p.db, p.store, ['areas'], { verify: true });
    expect(report.findings.filter(isDamage)).toEqual([]);
    expect(report.findings.map((f) => f.kind)).not.toContain('incomplete');
    expect(report.findings.filter((f) => f.kind === 'quarantined')).toHaveLength(
      (await listQuarantine(p.db, { dataset: 'areas', released: false })).length,
    );
    const quarantined = (await listQuarantine(p.db, { dataset: 'areas' })).map((e) => e.file.filename);
    expect(quarantined).toEqual(expect.arrayContaining(['nested.geojson', 'collections.geojson']));
  });

  it('refuses a GeoJSON point at latitude 95 or at 1e300 in WGS84 as the CSV path refuses latitude 95', async () => {
    const runs = [
      await send('areas', 'north.geojson', collection([point('ok', [1, 1]), point('north', [10, 95])])),
      await send('areas', 'far.geojson', collection([point('far', [1e300, 1e300])])),
      await send('mercator', 'north.geojson', collection([point('ok', [1, 1]), point('north', [10, 95])])),
    ];

    const where = runs.map((r) =>
      receiptOf(r).problems.map((x) => [x.rule, x.column, x.at[0]?.feature, x.at[0]?.key?.value]),
    );
    expect(where).toEqual([
      [['range', 'geometry', 1, 'north']],
      [['range', 'geometry', 0, 'far']],
      [['range', 'geometry', 1, 'north']],
    ]);
    expect(receiptOf(runs[0]!).problems[0]!.message).toMatch(
      /^1 feature with coordinates outside longitude -180\.\.180, latitude -90\.\.90 .*at feature 1 \(extent \[10, 95, 10, 95\]\)/,
    );
    expect(String(runs[1]!.error!.message)).toMatch(
      /far\.geojson, feature 0, column "geometry": coordinates must be within longitude -180\.\.180 and latitude -90\.\.90/,
    );
  });
});

describe.each(engines())('quarantined bytes after the contract changes on $name', (engine) => {
  let p: TestPlatform;
  const sites = (min: number) => ({
    sites: {
      format: 'csv',
      columns: [
        { name: 'id', type: 'integer', unique: true },
        { name: 'population', type: 'integer', min },
      ],
      geometry: { kind: 'none' },
    },
  });
  const send = (catalog: Catalog, body: string): Promise<Run> =>
    sendFile(p, catalog, 'sites', 'sites.csv', body);

  beforeAll(async () => {
    p = await testPlatform(engine);
  });
  afterAll(async () => p?.close());

  it('judges the same bytes again against the contract in force now, not the one that refused them', async () => {
    const file = 'id,population\n1,100\n2,5\n';
    const strict = await writeCatalog(join(p.dir, 'strict'), { datasets: sites(10) });
    const stricter = await writeCatalog(join(p.dir, 'stricter'), { datasets: sites(50) });
    const relaxed = await writeCatalog(join(p.dir, 'relaxed'), { datasets: sites(0) });

    const refused = await send(strict, file);
    const same = await send(strict, file);
    const stillTooStrict = await send(stricter, file);
    const accepted = await send(relaxed, file);

    const id = receiptOf(refused).version!;
    expect(receiptOf(refused)).toMatchObject({ status: 'quarantined', contract: expect.any(String) });
    // Under the contract that refused it: still quarantined, with the receipt it got then.
    expect(String(same.error!.message)).toMatch(/still quarantined/);
    expect(receiptOf(same).madeAt).toBe(receiptOf(refused).madeAt);
    // Under another that refuses it too: judged again, today's receipt, and it stays in quarantine.
    expect(String(stillTooStrict.error!.message)).toMatch(
      /line 3, column "population": value is below the minimum of 50; judged again against datasets\/sites\.yaml as it is now .*the file stays quarantined/,
    );
    expect(receiptOf(stillTooStrict).problems.map((x) => x.message)).toEqual([
      '1 row with population below the minimum of 50, at line 3',
    ]);
    expect(receiptOf(stillTooStrict).contract).not.toBe(receiptOf(refused).contract);
    // Under one it meets: the version it was given when received, current, and out of quarantine with why.
    expect(accepted.status).toBe('succeeded');
    expect(accepted.result).toMatchObject({ version: id, created: true, rows: 2 });
    expect((await currentVersion(p.db, 'sites'))?.version).toBe(id);
    expect((await getQuarantined(p.db, `sites/${id}`)).release).toMatchObject({
      version: id,
      reason: expect.stringMatching(/accepted against the contract in force now/),
    });
    expect(await listQuarantine(p.db, { dataset: 'sites', released: false })).toEqual([]);
  });

  it('keeps the receipt of a second refusal, so the same bytes under that contract are not judged a third time', async () => {
    // Prepare
    const file = 'id,population\n1,100\n2,6\n';
    const strict = await writeCatalog(join(p.dir, 'strict-2'), { datasets: sites(10) });
    const stricter = await writeCatalog(join(p.dir, 'stricter-2'), { datasets: sites(50) });
    const refused = await send(strict, file);
    const id = receiptOf(refused).version!;

    // Act
    const judgedAgain = await send(stricter, file);
    const sentAgain = await send(stricter, file);

    // Assess
    const kept = receiptOf(judgedAgain);
    expect(kept.contract).not.toBe(receiptOf(refused).contract);
    expect((await getQuarantined(p.db, `sites/${id}`)).receipt).toEqual(kept);
    const judged = await p.store.list('archive', quarantinePrefix('sites', id));
    const latest = latestJudgedKey(
      'sites',
      id,
      judged.map((o) => o.key),
    );
    expect(Receipt.parse(await readJson(p.store, 'archive', latest!))).toEqual(kept);
    // Under the contract that refused it twice: still quarantined, with the receipt of the second refusal.
    expect(String(sentAgain.error!.message)).toMatch(/still quarantined/);
    expect(receiptOf(sentAgain)).toEqual(kept);
    // A database filled again from the archive knows the second receipt too.
    await p.db.query('DELETE FROM strata.quarantine WHERE dataset = $1 AND id = $2', ['sites', id]);
    await syncQuarantine(p.db, p.store, 'sites');
    expect((await getQuarantined(p.db, `sites/${id}`)).receipt).toEqual(kept);
  });
});
