import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { executeJob } from '../../runtime/jobs/execute.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import type { Manifest } from '../../runtime/publish/manifest.ts';
import { readManifest } from '../../runtime/publish/versions.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { gdal, ogrSummary } from '../helpers/gdal.ts';

/** The attribute columns of `sites_out`, in order: their names run past a .dbf's 10 characters. */
const COLUMNS = [
  'id',
  'name',
  'population_total',
  'population_total_2020',
  'visited',
  'seen_at',
  'active',
  'score',
  'meta',
];

/** FlatGeobuf's header, read from its flatbuffer: the feature count, the index node size (0: no index), the CRS. */
function fgbHeader(buf: Buffer): { features: number; indexNodeSize: number; crs: number | undefined } {
  expect(buf.subarray(0, 3).toString()).toBe('fgb');
  const base = 12; // magic (8) and header size (4)
  const table = base + buf.readUInt32LE(base);
  const vtable = table - buf.readInt32LE(table);
  const field = (i: number) => {
    const at = 4 + i * 2;
    return at < buf.readUInt16LE(vtable) ? buf.readUInt16LE(vtable + at) : 0;
  };
  const count = field(8) ? Number(buf.readBigUInt64LE(table + field(8))) : 0;
  const indexNodeSize = field(9) ? buf.readUInt16LE(table + field(9)) : 16;
  let crs: number | undefined;
  if (field(10)) {
    const crsTable = table + field(10) + buf.readUInt32LE(table + field(10));
    const crsVtable = crsTable - buf.readInt32LE(crsTable);
    const codeAt = buf.readUInt16LE(crsVtable) > 6 ? buf.readUInt16LE(crsVtable + 6) : 0;
    crs = codeAt ? buf.readInt32LE(crsTable + codeAt) : undefined;
  }
  return { features: count, indexNodeSize, crs };
}

async function zipEntries(path: string): Promise<Map<string, Buffer>> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true });
  const out = new Map<string, Buffer>();
  for await (const e of zip.eachEntry()) {
    const chunks: Buffer[] = [];
    for await (const c of await zip.openReadStreamPromise(e)) chunks.push(c as Buffer);
    out.set(e.fileName, Buffer.concat(chunks));
  }
  return out;
}

describe.each(engines())('published formats on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  let manifest: Manifest;
  const egressPath = (key: string) => p.store.locate('egress', key);
  const output = (name: string, format: string) => {
    const o = manifest.outputs.find((x) => x.name === name && x.format === format);
    expect(o, `${name}.${format}`).toBeDefined();
    return o!;
  };

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await writeCatalog(join(p.dir, 'catalog'), {
      datasets: {
        sites: {
          format: 'csv',
          columns: [
            { name: 'id', type: 'integer', required: true },
            { name: 'name', type: 'text' },
            { name: 'lon', type: 'double' },
            { name: 'lat', type: 'double' },
          ],
          geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat', targetSrid: 27700 },
        },
      },
      products: {
        sites_all: {
          product: {
            inputs: { sites: 'sites' },
            outputs: [
              {
                table: 'sites_out',
                formats: ['csv', 'geojson', 'gpkg', 'flatgeobuf', 'shapefile', 'geoparquet'],
                orderBy: ['id'],
              },
              { table: 'sites_out', name: 'sites_default', orderBy: ['id'] },
              { table: 'summary' },
            ],
          },
          sql: {
            '010_sites.sql': `
              CREATE TABLE sites_out AS
              SELECT id, name, id * 1000 AS population_total, (id * 2000)::bigint AS population_total_2020,
                     DATE '2024-01-01' + id AS visited, TIMESTAMPTZ '2024-01-01 10:00:00+00' + id * interval '1 hour' AS seen_at,
                     id % 2 = 0 AS active, id / 3.0::float8 AS score, jsonb_build_object('id', id) AS meta, geom
              FROM sites
              UNION ALL
              SELECT 4, 'Nowhere', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL;
              CREATE TABLE summary AS SELECT count(*)::int AS n FROM sites;`,
          },
        },
        flat: {
          product: {
            inputs: { sites: 'sites' },
            outputs: [{ table: 'counts', formats: ['csv', 'flatgeobuf'] }],
          },
          sql: { '010_counts.sql': 'CREATE TABLE counts AS SELECT count(*)::int AS n FROM sites;' },
        },
      },
    });
    const csv = join(p.dir, 'sites.csv');
    await writeFile(
      csv,
      'id,name,lon,lat\n1,Leeds,-1.5491,53.8008\n2,"York, Café",-1.0815,53.959\n3,Hull,-0.3367,53.7457\n',
    );
    await runIngest(p, catalog, {
      dataset: 'sites',
      path: csv,
      filename: 'sites.csv',
      origin: { kind: 'file', from: csv },
    });
    await submit(p, { kind: 'build', product: 'sites_all' }, { kind: 'cli' });
    const run = await executeJob(p, catalog, (await p.queue.receive(1, 60))[0]!.job);
    expect(run.error).toBeNull();
    manifest = await readManifest(p.store, 'sites_all');
  });
  afterAll(async () => p?.close());

  it('records every format in the manifest with rows, size, sha256 and the CRS of its geometry', async () => {
    const expected: Record<string, number | null> = {
      csv: 27700,
      geojson: 4326,
      gpkg: 27700,
      flatgeobuf: 4326,
      shapefile: 27700,
      geoparquet: 4326,
    };
    for (const [format, srid] of Object.entries(expected)) {
      const o = output('sites_out', format);
      const bytes = await readFile(egressPath(o.key));
      // FlatGeobuf has no place for a feature without geometry: the manifest counts what the file holds.
      const rows = format === 'flatgeobuf' ? 3 : 4;
      expect(o).toMatchObject({ table: 'sites_out', rows, srid, size: bytes.length });
      expect(o.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    expect(output('sites_out', 'flatgeobuf').key).toMatch(/^products\/sites_all\/[^/]+\/sites_out\.fgb$/);
    expect(output('sites_out', 'shapefile').key).toMatch(/sites_out\.shp\.zip$/);
  });

  it('gives every output with a geometry a FlatGeobuf by default, and one without none', () => {
    expect(manifest.outputs.filter((o) => o.name === 'sites_default').map((o) => o.format)).toEqual([
      'csv',
      'geojson',
      'flatgeobuf',
    ]);
    expect(manifest.outputs.filter((o) => o.name === 'summary').map((o) => o.format)).toEqual([
      'csv',
      'geojson',
    ]);
  });

  it('round-trips each file through ogrinfo with the same feature count and fields', async () => {
    const at = (format: string) => egressPath(output('sites_out', format).key);
    const gpkg = await ogrSummary(at('gpkg'));
    expect(gpkg).toEqual({ driver: 'GPKG', layers: [{ name: 'sites_out', count: 4, fields: COLUMNS }] });
    const fgb = await ogrSummary(at('flatgeobuf'));
    expect(fgb).toEqual({ driver: 'FlatGeobuf', layers: [{ name: 'sites_out', count: 3, fields: COLUMNS }] });
    const json = await ogrSummary(at('geojson'));
    expect(json.layers[0]).toMatchObject({ count: 4, fields: COLUMNS });
    const csv = await ogrSummary(at('csv'));
    expect(csv.layers[0]).toMatchObject({ count: 4, fields: [...COLUMNS, 'geometry'] });
    const shp = await ogrSummary(`/vsizip/${at('shapefile')}/sites_out.shp`);
    const mapping = output('sites_out', 'shapefile').fields!;
    expect(shp).toEqual({
      driver: 'ESRI Shapefile',
      layers: [{ name: 'sites_out', count: 4, fields: mapping.map((m) => m.field) }],
    });
  });

  it('keeps values and types through GeoPackage, with its spatial index, in the table CRS', async () => {
    const path = egressPath(output('sites_out', 'gpkg').key);
    const out = await gdal('ogrinfo', ['-ro', '-q', path, 'sites_out', '-where', 'id = 2']);
    expect(out).toContain('name (String) = York, Café');
    expect(out).toContain('population_total_2020 (Integer64) = 4000');
    expect(out).toContain('visited (Date) = 2024/01/03');
    expect(out).toContain('seen_at (DateTime) = 2024/01/01 12:00:00+00');
    expect(out).toContain('active (Integer(Boolean)) = 1');
    expect(out).toMatch(/POINT \(4603\d{2}\.\d+ 4518\d{2}\.\d+\)/);
    const index = await gdal('ogrinfo', [
      '-ro',
      '-q',
      path,
      '-sql',
      "SELECT HasSpatialIndex('sites_out', 'geom')",
    ]);
    expect(index).toContain('HasSpatialIndex (Integer) = 1');
  });

  it('writes FlatGeobuf in EPSG:4326 with its packed spatial index', async () => {
    const bytes = await readFile(egressPath(output('sites_out', 'flatgeobuf').key));
    expect(fgbHeader(bytes)).toEqual({ features: 3, indexNodeSize: 16, crs: 4326 });
    const out = await gdal('ogrinfo', [
      '-ro',
      '-q',
      egressPath(output('sites_out', 'flatgeobuf').key),
      'sites_out',
      '-where',
      'id = 1',
    ]);
    expect(out).toMatch(/POINT \(-1\.549\d+ 53\.800\d+\)/);
  });

  it('zips the shapefile with its .prj, a UTF-8 .cpg and the field-name mapping, also in the manifest', async () => {
    const o = output('sites_out', 'shapefile');
    expect(o.fields).toEqual([
      { column: 'id', field: 'id' },
      { column: 'name', field: 'name' },
      { column: 'population_total', field: 'population' },
      { column: 'population_total_2020', field: 'populati_1' },
      { column: 'visited', field: 'visited' },
      { column: 'seen_at', field: 'seen_at' },
      { column: 'active', field: 'active' },
      { column: 'score', field: 'score' },
      { column: 'meta', field: 'meta' },
    ]);
    const entries = await zipEntries(egressPath(o.key));
    expect([...entries.keys()].sort()).toEqual([
      'fields.csv',
      'sites_out.cpg',
      'sites_out.dbf',
      'sites_out.prj',
      'sites_out.shp',
      'sites_out.shx',
    ]);
    expect(entries.get('sites_out.cpg')!.toString()).toBe('UTF-8');
    expect(entries.get('fields.csv')!.toString()).toContain('population_total_2020,populati_1\n');
    const out = await gdal('ogrinfo', [
      '-ro',
      '-q',
      `/vsizip/${egressPath(o.key)}/sites_out.shp`,
      'sites_out',
      '-where',
      'id = 2',
    ]);
    expect(out).toContain('name (String) = York, Café');
    expect(out).toContain('seen_at (String) = 2024-01-01T12:00:00.000Z');
  });

  it('writes GeoParquet 1.1: typed columns, WKB in OGC:CRS84, geometry types and bbox in its geo metadata', async () => {
    const path = egressPath(output('sites_out', 'geoparquet').key);
    const file = await asyncBufferFromFile(path);
    const metadata = await parquetMetadataAsync(file);
    const geo = JSON.parse(metadata.key_value_metadata!.find((kv) => kv.key === 'geo')!.value!);
    expect(geo).toMatchObject({
      version: '1.1.0',
      primary_column: 'geom',
      columns: { geom: { encoding: 'WKB', geometry_types: ['Point'] } },
    });
    expect(geo.columns.geom.bbox[0]).toBeCloseTo(-1.5491, 4);
    expect(geo.columns.geom.bbox[3]).toBeCloseTo(53.959, 4);
    const rows = await parquetReadObjects({ file, utf8: true });
    expect(rows).toHaveLength(4);
    expect(rows[3]).toMatchObject({ id: 4, name: 'Nowhere' });
    expect(rows[3]!.geom ?? null).toBeNull();
    expect(Object.keys(rows[0]!)).toEqual([...COLUMNS, 'geom']);
    const york = rows[1]!;
    expect(york).toMatchObject({
      id: 2,
      name: 'York, Café',
      population_total_2020: 4000n,
      active: true,
      meta: { id: 2 },
    });
    // hyparquet reads the geo metadata and decodes the WKB itself: an independent reader of what was written.
    const geometry = york.geom as { type: string; coordinates: number[] };
    expect(geometry.type).toBe('Point');
    expect(geometry.coordinates[0]).toBeCloseTo(-1.0815, 4);
    expect(geometry.coordinates[1]).toBeCloseTo(53.959, 4);
  });

  it('fails a build whose output cannot be written in a format, naming both, and publishes nothing', async () => {
    // Act
    await submit(p, { kind: 'build', product: 'flat' }, { kind: 'cli' });
    const run = await executeJob(p, catalog, (await p.queue.receive(1, 60))[0]!.job);
    // Assess
    expect(run.status).toBe('failed');
    expect(run.error?.message).toBe('output "counts" has no geometry column "geom": flatgeobuf needs one');
    expect(await p.store.list('egress', 'products/flat/')).toEqual([]);
  });
});
