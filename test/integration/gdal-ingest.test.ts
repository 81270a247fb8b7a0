import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gdalInUse } from '../../runtime/adapters/gdal/facade.ts';
import { archiveFile } from '../../runtime/archive/archive.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { LoadError } from '../../runtime/errors.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { loadVersion } from '../../runtime/load/load.ts';
import { DEFAULT_UNZIP_LIMITS } from '../../runtime/load/safe-unzip.ts';
import type { LoadProgress } from '../../runtime/runs/steps.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import {
  convert,
  declareSize,
  type Feature,
  gdal,
  geojsonFile,
  renameInZip,
  shapefileZip,
  zipOf,
} from '../helpers/gdal.ts';

/** Three towns in British National Grid (EPSG:27700) metres, with the names' accents to keep. */
const TOWNS: Feature[] = [
  {
    properties: { code: 'LDS', name: 'Leeds', population: 800000 },
    geometry: { type: 'Point', coordinates: [429800, 433800] },
  },
  {
    properties: { code: 'YRK', name: 'Yørk Café', population: 200000 },
    geometry: { type: 'Point', coordinates: [460300, 451900] },
  },
  {
    properties: { code: 'HUL', name: 'Hull', population: null },
    geometry: { type: 'Point', coordinates: [509300, 428900] },
  },
];
/** Leeds in WGS84, as PROJ puts 429800, 433800 (OSGB36 by Helmert: within metres, no grid). */
const LEEDS = { lon: -1.547, lat: 53.798 };

const PARCELS: Feature[] = [
  {
    properties: { ref: 'P1', area: 12.5 },
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [430000, 433000],
          [430100, 433000],
          [430100, 433100],
          [430000, 433000],
        ],
      ],
    },
  },
  {
    properties: { ref: 'P2', area: 7 },
    geometry: {
      type: 'MultiPolygon',
      coordinates: [
        [
          [
            [431000, 433000],
            [431100, 433000],
            [431100, 433100],
            [431000, 433000],
          ],
        ],
      ],
    },
  },
];

const townColumns = [
  { name: 'code', type: 'text', required: true, unique: true },
  { name: 'name', type: 'text' },
  { name: 'population', type: 'integer', min: 0 },
];

describe.each(engines())('formats read through GDAL on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  let dir: string;
  /** Work folders of loads go here, so a test can see that each was removed. */
  let tmpDir: string;
  let n = 0;
  const fixtures: Record<string, string> = {};

  const save = async (name: string, body: Buffer | string) => {
    const path = join(dir, `${++n}-${name}`);
    await writeFile(path, body);
    return path;
  };
  /** Archives a file and loads it, as an ingest run does, with its work folder in `tmpDir`. */
  const ingest = async (dataset: string, path: string, onProgress?: (x: LoadProgress) => void) => {
    const { version } = await archiveFile(p.db, p.store, {
      dataset,
      path,
      origin: { kind: 'file', from: path },
    });
    const loaded = await loadVersion(p.db, p.store, catalog.datasets.get(dataset)!, version, {
      tmpDir,
      onProgress,
    });
    return { version, result: loaded };
  };
  const refusal = async (dataset: string, path: string): Promise<LoadError> => {
    const e = await ingest(dataset, path).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(LoadError);
    expect(await readdir(tmpDir)).toEqual([]);
    return e as LoadError;
  };
  const tables = async (dataset: string) =>
    (
      await p.db.query<{ t: string }>(
        `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'datasets' AND table_name LIKE $1 AND table_type = 'BASE TABLE'`,
        [`${dataset}@%`],
      )
    ).length;
  const towns = (dataset: string) =>
    p.db.query<{
      code: string;
      name: string;
      population: number | null;
      lon: number;
      lat: number;
      srid: number;
    }>(
      `SELECT code, name, population, ST_X(geom) AS lon, ST_Y(geom) AS lat, ST_SRID(geom) AS srid FROM datasets.${dataset} ORDER BY code`,
    );

  beforeAll(async () => {
    p = await testPlatform(engine);
    dir = join(p.dir, 'files');
    await mkdir(dir);
    tmpDir = await mkdtemp(join(p.dir, 'work-'));
    const townsJson = await geojsonFile(dir, 'towns', TOWNS);
    const parcelsJson = await geojsonFile(dir, 'parcels', PARCELS);
    // A GeoPackage with two layers, both in EPSG:27700 from its own metadata.
    fixtures.gpkg = await convert(townsJson, join(dir, 'two.gpkg'), 'GPKG', {
      srs: 'EPSG:27700',
      layer: 'towns',
    });
    await convert(parcelsJson, fixtures.gpkg, 'GPKG', { srs: 'EPSG:27700', layer: 'parcels', append: true });
    fixtures.oneLayer = await convert(townsJson, join(dir, 'one.gpkg'), 'GPKG', {
      srs: 'EPSG:27700',
      layer: 'towns',
    });
    fixtures.fgb = await convert(townsJson, join(dir, 'towns.fgb'), 'FlatGeobuf', { srs: 'EPSG:27700' });
    const wgs84 = await geojsonFile(
      dir,
      'towns84',
      TOWNS.map((f, i) => ({ ...f, geometry: { type: 'Point', coordinates: [-1.5 + i, 53.8] } })),
    );
    fixtures.kml = await convert(wgs84, join(dir, 'towns.kml'), 'KML', { layer: 'towns' });
    fixtures.geojsonseq = await convert(wgs84, join(dir, 'towns.geojsonl'), 'GeoJSONSeq');
    fixtures.shp = await save(
      'towns.zip',
      await shapefileZip(townsJson, { srs: 'EPSG:27700', encoding: 'CP1252' }),
    );
    fixtures.parcelsShp = await save(
      'parcels.zip',
      await shapefileZip(parcelsJson, { srs: 'EPSG:27700', name: 'parcels' }),
    );
    fixtures.noPrj = await save('noprj.zip', await shapefileZip(townsJson, { omit: ['.prj'] }));
    fixtures.noCpg = await save(
      'nocpg.zip',
      await shapefileZip(townsJson, { srs: 'EPSG:27700', encoding: 'CP1252', omit: ['.cpg'] }),
    );
    fixtures.noShx = await save(
      'noshx.zip',
      await shapefileZip(townsJson, { srs: 'EPSG:27700', omit: ['.shx'] }),
    );
    fixtures.noDbf = await save(
      'nodbf.zip',
      await shapefileZip(townsJson, { srs: 'EPSG:27700', omit: ['.dbf'] }),
    );
    fixtures.twoShp = await save(
      'two.zip',
      await shapefileZip(townsJson, {
        srs: 'EPSG:27700',
        name: 'towns',
        extra: [
          ...(await zipEntries(await shapefileZip(parcelsJson, { srs: 'EPSG:27700', name: 'parcels' }))),
        ],
      }),
    );
    fixtures.bad = await convert(
      await geojsonFile(dir, 'bad', [
        ...TOWNS.slice(0, 2),
        { properties: { code: 'BAD', name: 'x', population: 'lots' }, geometry: TOWNS[2]!.geometry },
      ]),
      join(dir, 'bad.gpkg'),
      'GPKG',
      { srs: 'EPSG:27700', layer: 'towns' },
    );

    const gdalTowns = (
      format: string,
      extra: Record<string, unknown> = {},
      geometry: Record<string, unknown> = {},
    ) => ({
      format,
      columns: townColumns,
      geometry: { kind: 'geojson', type: 'Point', targetSrid: 4326, ...geometry },
      ...extra,
    });
    catalog = await writeCatalog(join(p.dir, 'catalog'), {
      datasets: {
        gpkg_towns: gdalTowns('gpkg', { gdal: { layer: 'towns' } }),
        gpkg_only: gdalTowns('gpkg', {}, { targetSrid: 27700 }),
        gpkg_parcels: {
          format: 'gpkg',
          gdal: { layer: 'parcels' },
          columns: [
            { name: 'ref', type: 'text' },
            { name: 'area', type: 'double' },
          ],
          geometry: { kind: 'geojson', type: 'MultiPolygon', sourceSrid: 27700, targetSrid: 27700 },
        },
        gpkg_missing_layer: gdalTowns('gpkg', { gdal: { layer: 'roads' } }),
        gpkg_any_layer: gdalTowns('gpkg'),
        gpkg_declared_wgs84: gdalTowns('gpkg', {}, { sourceSrid: 4326 }),
        gpkg_override: gdalTowns(
          'gpkg',
          { gdal: { overrideSrid: true } },
          { sourceSrid: 3857, targetSrid: 3857 },
        ),
        gpkg_no_geometry: { format: 'gpkg', columns: townColumns, geometry: { kind: 'none' } },
        fgb_towns: gdalTowns('flatgeobuf'),
        kml_towns: {
          format: 'kml',
          columns: [{ name: 'name', source: 'Name', type: 'text' }],
          geometry: { kind: 'geojson', type: 'Point' },
        },
        seq_towns: gdalTowns('geojsonseq'),
        seq_towns_run: gdalTowns('geojsonseq'),
        shp_towns: gdalTowns('shapefile'),
        shp_towns_cp1252: gdalTowns('shapefile', { gdal: { encoding: 'CP1252' } }),
        shp_declared: gdalTowns('shapefile', {}, { sourceSrid: 27700 }),
        shp_parcels: {
          format: 'shapefile',
          gdal: { layer: 'parcels' },
          columns: [{ name: 'ref', type: 'text' }],
          geometry: { kind: 'geojson', type: 'MultiPolygon', targetSrid: 27700 },
        },
      },
    });
  });
  afterAll(async () => p?.close());

  it('loads a named layer of a GeoPackage, reading its CRS (EPSG:27700) and transforming to the target', async () => {
    // Act
    const { result } = await ingest('gpkg_towns', fixtures.gpkg!);
    // Assess
    expect(result).toMatchObject({ rows: 3, loaded: true });
    const rows = await towns('gpkg_towns');
    expect(rows.map((r) => [r.code, r.name, r.population, r.srid])).toEqual([
      ['HUL', 'Hull', null, 4326],
      ['LDS', 'Leeds', 800000, 4326],
      ['YRK', 'Yørk Café', 200000, 4326],
    ]);
    const leeds = rows.find((r) => r.code === 'LDS')!;
    expect(leeds.lon).toBeCloseTo(LEEDS.lon, 2);
    expect(leeds.lat).toBeCloseTo(LEEDS.lat, 2);
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('loads the only layer when none is named, keeping the file CRS when it is the target', async () => {
    const { result } = await ingest('gpkg_only', fixtures.oneLayer!);
    expect(result).toMatchObject({ rows: 3 });
    const rows = await towns('gpkg_only');
    expect(rows.find((r) => r.code === 'LDS')).toMatchObject({ lon: 429800, lat: 433800, srid: 27700 });
  });

  it('promotes polygons to the declared MultiPolygon', async () => {
    const { result } = await ingest('gpkg_parcels', fixtures.gpkg!);
    expect(result).toMatchObject({ rows: 2 });
    const types = await p.db.query<{ t: string }>(
      `SELECT GeometryType(geom) AS t FROM datasets.gpkg_parcels`,
    );
    expect(types.map((r) => r.t)).toEqual(['MULTIPOLYGON', 'MULTIPOLYGON']);
  });

  it('loads a zipped shapefile with its .prj and its .cpg encoding (CP1252), fields matched ignoring case', async () => {
    const { result } = await ingest('shp_towns', fixtures.shp!);
    expect(result).toMatchObject({ rows: 3 });
    const rows = await towns('shp_towns');
    expect(rows.map((r) => r.name)).toEqual(['Hull', 'Leeds', 'Yørk Café']);
    expect(rows.find((r) => r.code === 'LDS')!.lon).toBeCloseTo(LEEDS.lon, 2);
  });

  it('reads a shapefile without .cpg in the encoding the catalog names', async () => {
    await ingest('shp_towns_cp1252', fixtures.noCpg!);
    expect((await towns('shp_towns_cp1252')).map((r) => r.name)).toContain('Yørk Café');
  });

  it('takes the declared sourceSrid for a shapefile without .prj', async () => {
    await ingest('shp_declared', fixtures.noPrj!);
    expect((await towns('shp_declared')).find((r) => r.code === 'LDS')!.lat).toBeCloseTo(LEEDS.lat, 2);
  });

  it('picks the named shapefile out of a zip holding two', async () => {
    const { result } = await ingest('shp_parcels', fixtures.twoShp!);
    expect(result).toMatchObject({ rows: 2 });
  });

  it('loads FlatGeobuf, KML and GeoJSON sequences', async () => {
    expect((await ingest('fgb_towns', fixtures.fgb!)).result).toMatchObject({ rows: 3 });
    expect((await towns('fgb_towns')).find((r) => r.code === 'LDS')!.lon).toBeCloseTo(LEEDS.lon, 2);
    expect((await ingest('kml_towns', fixtures.kml!)).result).toMatchObject({ rows: 3 });
    const kml = await p.db.query<{ name: string; x: number }>(
      `SELECT name, ST_X(geom) AS x FROM datasets.kml_towns ORDER BY name`,
    );
    expect(kml).toEqual([
      { name: 'Hull', x: 0.5 },
      { name: 'Leeds', x: -1.5 },
      { name: 'Yørk Café', x: -0.5 },
    ]);
    expect((await ingest('seq_towns', fixtures.geojsonseq!)).result).toMatchObject({ rows: 3 });
    expect((await towns('seq_towns')).map((r) => r.population)).toEqual([null, 800000, 200000]);
  });

  it('loads fields only when the catalog declares no geometry', async () => {
    expect((await ingest('gpkg_no_geometry', fixtures.oneLayer!)).result).toMatchObject({ rows: 3 });
  });

  it('ingests through the job path, the command line seeing progress in rows and bytes', async () => {
    // Prepare
    const seen: LoadProgress[] = [];
    // Act
    const { result } = await runIngest(
      p,
      catalog,
      {
        dataset: 'seq_towns_run',
        path: fixtures.geojsonseq!,
        filename: 'towns.geojsonl',
        origin: { kind: 'file', from: 'x' },
      },
      { onLoadProgress: (x) => seen.push(x) },
    );
    // Assess
    expect(result).toMatchObject({ rows: 3, loaded: true });
    expect(seen.at(-1)).toEqual({ rows: 3, bytes: result.size, totalBytes: result.size });
  });

  it('keeps values holding newlines, tabs and backslashes whole, and still names the right feature', async () => {
    // Prepare: a GeoJSON sequence keeps its features in order (an indexed FlatGeobuf sorts them), in WGS84.
    const at = (x: number) => ({ type: 'Point', coordinates: [x, 53.8] });
    const rows: Feature[] = [
      { properties: { code: 'A', name: 'line 1\nline 2\tend \\ here', population: 1 }, geometry: at(-1.5) },
      { properties: { code: 'B', name: 'carriage\r\nreturn\\', population: 2 }, geometry: at(-0.5) },
    ];
    const good = await convert(await geojsonFile(dir, 'nl', rows), join(dir, 'nl.geojsonl'), 'GeoJSONSeq');
    const bad = await convert(
      await geojsonFile(dir, 'nlbad', [
        ...rows,
        { properties: { code: 'C', name: 'x', population: 'many' }, geometry: at(0.5) },
      ]),
      join(dir, 'nlbad.geojsonl'),
      'GeoJSONSeq',
    );
    // Act
    const e = await refusal('seq_towns', bad);
    await ingest('seq_towns', good);
    // Assess
    expect(e.problem).toMatchObject({ feature: 2, column: 'population' });
    expect((await towns('seq_towns')).map((r) => r.name)).toEqual([
      'line 1\nline 2\tend \\ here',
      'carriage\r\nreturn\\',
    ]);
  });

  it('loads an empty layer as an empty version', async () => {
    const empty = await convert(fixtures.oneLayer!, join(dir, 'empty.gpkg'), 'GPKG', {
      extra: ['-where', "code = 'none'"],
    });
    expect((await ingest('gpkg_only', empty)).result).toMatchObject({ rows: 0, loaded: true });
  });

  describe('refusals, each naming what to fix, leaving no table and no work folder', () => {
    it('a value the column cannot hold: file, layer, feature and field', async () => {
      const e = await refusal('gpkg_towns', fixtures.bad!);
      expect(e.problem).toMatchObject({ layer: 'towns', feature: 2, column: 'population' });
      expect(e.message).toMatch(
        /bad\.gpkg, layer "towns", feature 2, column "population": invalid input syntax for type integer: "lots"/,
      );
      expect(await tables('gpkg_towns')).toBe(1);
    });

    it('a file whose CRS differs from the declared one, with both named', async () => {
      const e = await refusal('gpkg_declared_wgs84', fixtures.oneLayer!);
      expect(e.message).toMatch(
        /the file's CRS is EPSG:27700 \(OSGB36 \/ British National Grid\) but datasets\/gpkg_declared_wgs84\.yaml declares EPSG:4326/,
      );
      expect(await tables('gpkg_declared_wgs84')).toBe(0);
    });

    it('unless the catalog overrides it', async () => {
      await ingest('gpkg_override', fixtures.oneLayer!);
      expect((await towns('gpkg_override')).find((r) => r.code === 'LDS')).toMatchObject({
        lon: 429800,
        srid: 3857,
      });
    });

    it('a file with no CRS when the catalog declares none', async () => {
      const e = await refusal('shp_towns', fixtures.noPrj!);
      expect(e.message).toMatch(/says no CRS \(no \.prj in the zip\).*set geometry\.sourceSrid/);
    });

    it('a layer name that does not exist, and several layers with none named', async () => {
      expect((await refusal('gpkg_missing_layer', fixtures.gpkg!)).message).toMatch(
        /layer "roads": the file has no layer "roads"; its layers: "parcels", "towns"|layer "roads": the file has no layer "roads"; its layers: "towns", "parcels"/,
      );
      expect((await refusal('gpkg_any_layer', fixtures.gpkg!)).message).toMatch(
        /holds 2 layers .*gdal\.layer/,
      );
    });

    it('a GeoPackage that is not SQLite', async () => {
      const e = await refusal(
        'gpkg_towns',
        await save('fake.gpkg', '{"type":"FeatureCollection","features":[]}'),
      );
      expect(e.message).toMatch(/not a GeoPackage: a GeoPackage is an SQLite database/);
    });

    it('a shapefile missing its .shx or its .dbf, or not zipped', async () => {
      expect((await refusal('shp_towns', fixtures.noShx!)).message).toMatch(
        /incomplete: its \.shx is missing/,
      );
      expect((await refusal('shp_towns', fixtures.noDbf!)).message).toMatch(
        /incomplete: its \.dbf is missing/,
      );
      expect((await refusal('shp_towns', fixtures.fgb!)).message).toMatch(/must come as a \.zip/);
      expect((await refusal('shp_towns', fixtures.twoShp!)).message).toMatch(
        /holds 2 shapefiles .*gdal\.layer/,
      );
    });

    it('a file that is another format than the catalog says', async () => {
      expect((await refusal('fgb_towns', fixtures.kml!)).message).toMatch(
        /not a FlatGeobuf file: GDAL reads it as (LIB)?KML/,
      );
    });

    it('entries that climb out with "..", absolute paths and symbolic links, extracting nothing outside', async () => {
      const base = await zipOf([{ name: 'aa/evil.shp', data: Buffer.from('x') }]);
      const climbing = await save('climb.zip', renameInZip(base, 'aa/evil.shp', '../evil.shp'));
      expect((await refusal('shp_towns', climbing)).message).toMatch(
        /entry "\.\.\/evil\.shp" climbs out with "\.\."/,
      );
      const absolute = await save('abs.zip', renameInZip(base, 'aa/evil.shp', '/a/evil.shp'));
      expect((await refusal('shp_towns', absolute)).message).toMatch(
        /entry "\/a\/evil\.shp" has an absolute path/,
      );
      const link = await save(
        'link.zip',
        await zipOf([{ name: 'layer.shp', data: Buffer.from('/etc/passwd'), mode: 0o120777 }]),
      );
      expect((await refusal('shp_towns', link)).message).toMatch(/entry "layer\.shp" is a symbolic link/);
      expect(existsSync(join(tmpDir, '..', 'evil.shp'))).toBe(false);
    });

    it('zip bombs: an entry that expands too far, and more bytes than allowed, stopped while unpacking', async () => {
      const bomb = await save(
        'bomb.zip',
        await zipOf([
          { name: 'layer.shp', data: Buffer.alloc(1 << 10) },
          { name: 'layer.dbf', data: Buffer.alloc(8 << 20) },
        ]),
      );
      expect((await refusal('shp_towns', bomb)).message).toMatch(
        /entry "layer\.dbf" expands more than 200 times \(\d+ bytes compressed, stopped at \d+\): a zip bomb/,
      );
      const { version } = await archiveFile(p.db, p.store, {
        dataset: 'shp_towns',
        path: bomb,
        origin: { kind: 'file', from: bomb },
      });
      const e = await loadVersion(p.db, p.store, catalog.datasets.get('shp_towns')!, version, {
        tmpDir,
        unzip: { ...DEFAULT_UNZIP_LIMITS, maxRatio: 1e9, maxBytes: 4 << 20 },
      }).catch((err: unknown) => err as LoadError);
      expect((e as LoadError).message).toMatch(
        /unpacks to more than 4194304 bytes \(entry "layer\.dbf" says 8388608\)/,
      );
      const liar = await save('liar.zip', declareSize(await readFile(bomb), 'layer.dbf', 100));
      expect((await refusal('shp_towns', liar)).message).toMatch(
        /entry "layer\.dbf" cannot be unpacked: too many bytes/,
      );
      expect(await readdir(tmpDir)).toEqual([]);
    });

    it('Z values in a 2D dataset', async () => {
      const z = await convert(
        await geojsonFile(dir, 'z', [
          {
            properties: { code: 'Z', name: 'z', population: 1 },
            geometry: { type: 'Point', coordinates: [1, 2, 3] },
          },
        ]),
        join(dir, 'z.fgb'),
        'FlatGeobuf',
        { srs: 'EPSG:27700' },
      );
      expect((await refusal('fgb_towns', z)).message).toMatch(
        /has Z values \(3D Point\): declare geometry dimensions: 3/,
      );
    });

    it('Z values in a 2D dataset that the layer does not declare, naming the feature (PGDump dropped them)', async () => {
      // Prepare: a KML whose second placemark has an altitude (the system's LIBKML reads the layer as of no
      // type; the embedded KML driver as 3D, refused by the layer), and a GeoPackage whose metadata says 2D
      // over geometries that hold Z.
      const wgs84 = (z: number[]) =>
        TOWNS.map((f, i) => ({ ...f, geometry: { type: 'Point', coordinates: [-1.5 + i, 53.8, ...z] } }));
      const flat = wgs84([]);
      const kml = await convert(
        await geojsonFile(dir, 'kmlz', [flat[0]!, wgs84([120])[1]!, flat[2]!]),
        join(dir, 'z.kml'),
        'KML',
        { layer: 'towns' },
      );
      const gpkg = await convert(await geojsonFile(dir, 'gpkgz', TOWNS), join(dir, 'z.gpkg'), 'GPKG', {
        srs: 'EPSG:27700',
        layer: 'towns',
        extra: ['-dim', 'XYZ'],
      });
      // The embedded GDAL opens the files it is given read-only, so only the system's can make the GeoPackage
      // half of this fixture (metadata edited to say 2D); the KML half runs on both.
      const canEditFiles = !(await gdalInUse()).includes('embedded');
      if (canEditFiles) await gdal('ogrinfo', [gpkg, '-sql', 'UPDATE gpkg_geometry_columns SET z = 0']);
      // Act
      const fromKml = await refusal('kml_towns', kml);
      // Assess
      expect(fromKml.problem).toMatchObject({ layer: 'towns', column: 'geometry' });
      expect(fromKml.message).toMatch(/Z values.*declare geometry dimensions: 3/);
      if (fromKml.problem.feature !== undefined) expect(fromKml.problem.feature).toBe(1);
      if (!canEditFiles) return;
      const fromGpkg = await refusal('gpkg_only', gpkg);
      expect(fromGpkg.problem).toMatchObject({ layer: 'towns', feature: 0, column: 'geometry' });
      expect(fromGpkg.message).toMatch(
        /z\.gpkg, layer "towns", feature 0, column "geometry": the geometry has Z values, which the layer's type \(Point\) does not declare and a 2D dataset would lose: declare geometry dimensions: 3 in datasets\/gpkg_only\.yaml to keep them/,
      );
    });
  });
});

/** The entries of a zip, to put them into another. */
async function zipEntries(zip: Buffer) {
  const yauzl = (await import('yauzl')).default;
  const z = await yauzl.fromBufferPromise(zip, { lazyEntries: true });
  const out: { name: string; data: Buffer }[] = [];
  for await (const e of z.eachEntry()) {
    const chunks: Buffer[] = [];
    for await (const c of await z.openReadStreamPromise(e)) chunks.push(c as Buffer);
    out.push({ name: e.fileName, data: Buffer.concat(chunks) });
  }
  return out;
}
