import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeGdal, systemGdalVersion } from '../../runtime/adapters/gdal/native.ts';
import { embeddedGdal, embeddedPackage } from '../../runtime/adapters/gdal/wasm.ts';
import { parseOgrinfo } from '../../runtime/load/gdal-info.ts';
import { GdalFailedError, type GdalPort } from '../../runtime/ports/gdal.ts';
import { runCli } from '../helpers/cli.ts';
import { convert, type Feature, geojsonFile, shapefileZip } from '../helpers/gdal.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

/** Two towns in British National Grid, one name with a newline and an accent, one with a date. */
const TOWNS: Feature[] = [
  {
    properties: {
      code: 'LDS',
      name: 'Leeds\nWest',
      founded: '1907-01-01',
      seen: '2024-05-01T01:02:03.5+02:00',
      population: 800000,
    },
    geometry: { type: 'Point', coordinates: [429800, 433800] },
  },
  {
    properties: { code: 'YRK', name: 'Yørk Café', founded: null, seen: null, population: null },
    geometry: { type: 'Point', coordinates: [460300, 451900] },
  },
];

const INFO = ['-ro', '-so', '-al', '-noextent', '-nomd', '-wkt_format', 'WKT2'];

/** The PGDump rows a port streams for a layer, as the load reads them. */
async function dumpRows(port: GdalPort, path: string, layer: string): Promise<string[]> {
  const s = port.stream([
    '--config',
    'PG_USE_COPY',
    'YES',
    '-f',
    'PGDump',
    '/vsistdout/',
    path,
    layer,
    '-lco',
    'CREATE_TABLE=OFF',
    '-lco',
    'SRID=27700',
    '-lco',
    'GEOMETRY_NAME=geom',
    '-unsetFid',
  ]);
  let text = '';
  for await (const chunk of s.stdout) text += chunk;
  await s.done;
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('COPY '));
  return lines.slice(start, lines.indexOf('\\.', start));
}

describe('the two GDAL adapters', () => {
  let dir: string;
  let system: GdalPort;
  let embedded: GdalPort;
  const files: Record<string, { path: string; layer: string }> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-gdal-adapters-'));
    system = nativeGdal((await systemGdalVersion())!);
    embedded = embeddedGdal(embeddedPackage()!.version);
    const json = await geojsonFile(dir, 'towns', TOWNS);
    const wgs84 = await convert(json, join(dir, 'wgs84.geojson'), 'GeoJSON', {
      srs: 'EPSG:27700',
      extra: ['-t_srs', 'EPSG:4326'],
    });
    files.gpkg = {
      path: await convert(json, join(dir, 'towns.gpkg'), 'GPKG', { srs: 'EPSG:27700', layer: 'towns' }),
      layer: 'towns',
    };
    files.fgb = {
      path: await convert(json, join(dir, 'towns.fgb'), 'FlatGeobuf', { srs: 'EPSG:27700' }),
      layer: 'towns',
    };
    files.kml = {
      path: await convert(wgs84, join(dir, 'towns.kml'), 'KML', { layer: 'towns' }),
      layer: 'towns',
    };
    files.geojsonseq = {
      path: await convert(wgs84, join(dir, 'towns.geojsonl'), 'GeoJSONSeq'),
      layer: 'towns',
    };
    const zip = join(dir, 'towns.zip');
    await writeFile(zip, await shapefileZip(json, { name: 'towns' }));
    files.shapefile = { path: `/vsizip/${zip}/towns.shp`, layer: 'towns' };
  }, 300_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['gpkg', 'shapefile', 'fgb', 'kml', 'geojsonseq'])(
    'describe %s alike: driver, layer, geometry, fields and CRS',
    async (format) => {
      const { path } = files[format]!;
      const [a, b] = [
        await system.run('ogrinfo', [...INFO, path]),
        await embedded.run('ogrinfo', [...INFO, path]),
      ];
      const s = parseOgrinfo(a);
      const e = parseOgrinfo(b);
      const shape = (info: typeof s) =>
        info.layers.map((l) => [l.name, l.geometry, l.crs?.epsg, l.fields.map((f) => f.name)]);
      if (format === 'kml') {
        // The system GDAL may read KML with LIBKML (more fields), which the embedded one lacks: its KML driver
        // reads the same layer and names.
        expect(e.driver).toBe('KML');
        expect(e.layers.map((l) => l.name)).toEqual(s.layers.map((l) => l.name));
        expect(e.layers[0]!.fields.map((f) => f.name)).toContain('Name');
      } else {
        expect(e.driver).toBe(s.driver);
        expect(shape(e)).toEqual(shape(s));
      }
      expect(e.layers[0]!.featureCount ?? 2).toBe(2);
    },
    120_000,
  );

  it.each(['gpkg', 'shapefile', 'fgb'])(
    'stream the same COPY rows from %s, newlines and accents whole',
    async (format) => {
      const { path, layer } = files[format]!;
      const rows = await dumpRows(embedded, path, layer);
      expect(rows).toEqual(await dumpRows(system, path, layer));
      expect(rows.join('\n')).toContain('Yørk Café');
    },
    120_000,
  );

  it.each([
    ['GPKG', 'gpkg'],
    ['FlatGeobuf', 'fgb'],
    ['ESRI Shapefile', 'shp'],
  ])(
    'write %s, reprojected by PROJ, that the system GDAL reads back',
    async (driver, ext) => {
      const out = join(dir, `out-${ext}`);
      await mkdir(out);
      // A source reached through a symbolic link, as a load links the archived file in under its extension.
      await symlink(files.gpkg!.path, join(out, 'source.gpkg'));
      const file = join(out, `written.${ext}`);
      await embedded.run('ogr2ogr', [
        '-f',
        driver,
        file,
        join(out, 'source.gpkg'),
        '-t_srs',
        'EPSG:4326',
        '-nln',
        'written',
      ]);
      const back = await system.run('ogrinfo', ['-ro', '-q', file, 'written', '-where', "code = 'LDS'"]);
      expect(back).toMatch(/POINT \(-1\.54\d+ 53\.79\d+\)/);
    },
    120_000,
  );

  it('describe a file from a working directory under /usr (a dev container’s /usr/src/app), many times over', async () => {
    const was = process.cwd();
    process.chdir('/usr');
    try {
      // Many descriptions: GDAL's text is freed each time, so the heap does not grow with them.
      for (let i = 0; i < 20; i++)
        expect(parseOgrinfo(await embedded.run('ogrinfo', [...INFO, files.gpkg!.path])).driver).toBe('GPKG');
    } finally {
      process.chdir(was);
    }
  });

  it('refuse alike what they cannot do, with GDAL’s own message', async () => {
    const missing = join(dir, 'missing.gpkg');
    const e = await embedded.run('ogrinfo', [...INFO, missing]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GdalFailedError);
    expect((e as Error).message).toMatch(/missing\.gpkg/);
    const srs = await embedded.run('gdalsrsinfo', ['-o', 'epsg', 'EPSG:999999']).catch((x: unknown) => x);
    expect(srs).toBeInstanceOf(GdalFailedError);
    expect(await embedded.run('gdalsrsinfo', ['-o', 'epsg', 'EPSG:27700'])).toContain('EPSG:27700');
    const driver = await embedded
      .run('ogr2ogr', ['-f', 'Parquet', join(dir, 'x.parquet'), files.gpkg!.path])
      .catch((x: unknown) => x);
    expect((driver as Error).message).toMatch(
      /the embedded GDAL has no "Parquet" driver.*apt-get install gdal-bin/,
    );
  });

  it('are chosen by what the PATH holds: a command line without ogr2ogr names and uses the embedded one', async () => {
    const bin = join(dir, 'path');
    const { stdout } = await run(join(ROOT, '.ci', 'path-without-gdal'), [bin]);
    const catalog = join(dir, 'catalog');
    await mkdir(join(catalog, 'datasets'), { recursive: true });
    await writeFile(
      join(catalog, 'datasets', 'towns.yaml'),
      'name: towns\nformat: gpkg\ncolumns:\n  - { name: code, type: text }\ngeometry: { kind: geojson, sourceSrid: 27700, targetSrid: 999999 }\n',
    );
    const r = await runCli(['--catalog', catalog, '--home', join(dir, 'home'), 'validate', '--no-sql'], {
      ...process.env,
      PATH: stdout.trim(),
      STRATA_GDAL: '',
    });
    expect(r.stderr).toContain('using GDAL 3.8.4 (embedded; install gdal-bin for speed)');
    expect(`${r.stdout}${r.stderr}`).toContain('EPSG:999999 is not a coordinate reference system PROJ knows');
    expect(r.code).not.toBe(0);
  }, 300_000);
});
