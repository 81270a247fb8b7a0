import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDemoFiles } from '../../runtime/catalog-files/demo-data.ts';
import { type Catalog, loadCatalogOrThrow } from '../../runtime/catalog-files/loader.ts';
import { BuildError } from '../../runtime/errors.ts';
import { executeJob, workUntil } from '../../runtime/jobs/execute.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { readText } from '../../runtime/ports/object-store.ts';
import { collectBuildSchemas } from '../../runtime/products/gc.ts';
import { planBuild } from '../../runtime/products/plan.ts';
import type { Manifest } from '../../runtime/publish/manifest.ts';
import { listProductVersions, readLatest, readManifest } from '../../runtime/publish/versions.ts';
import type { Run } from '../../runtime/runs/schema.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';

const SHIPPED = fileURLToPath(new URL('../../catalog', import.meta.url));

type Ring = [number, number][];
/** Even-odd ray casting over every ring of a (multi)polygon: an independent point-in-polygon. */
function contains(polygons: Ring[][], x: number, y: number): boolean {
  let inside = false;
  for (const rings of polygons)
    for (const ring of rings)
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i]!;
        const [xj, yj] = ring[j]!;
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
      }
  return inside;
}

describe.each(engines())('builds and publishing on $name', (engine) => {
  let p: TestPlatform;
  let n = 0;
  const file = async (name: string, body: string) => {
    const path = join(p.dir, `${++n}-${name}`);
    await writeFile(path, body);
    return path;
  };
  const ingest = (catalog: Catalog, dataset: string, path: string) =>
    runIngest(p, catalog, {
      dataset,
      path,
      filename: path.split('/').pop()!,
      origin: { kind: 'file', from: path },
    });
  const build = async (catalog: Catalog, product: string): Promise<Run> => {
    const run = await submit(p, { kind: 'build', product }, { kind: 'cli' });
    return workUntil(p, catalog, run.id);
  };
  const egress = (key: string) => readText(p.store, 'egress', key);

  beforeAll(async () => {
    p = await testPlatform(engine);
  });
  afterAll(async () => p?.close());

  it('builds the demo product from real data, and its numbers agree with an independent count', async () => {
    // Prepare
    const catalog = await loadCatalogOrThrow(SHIPPED);
    const files = await writeDemoFiles(join(p.dir, 'demo'));
    await ingest(catalog, 'us_counties', files.counties);
    await ingest(catalog, 'world_places', files.places);
    // Act
    const run = await build(catalog, 'county_places');
    // Assess
    expect(run.error).toBeNull();
    expect(run.status).toBe('succeeded');
    const manifest = await readManifest(p.store, 'county_places');
    expect(manifest.inputs.map((i) => [i.alias, 'dataset' in i ? i.dataset : i.product, i.rows])).toEqual([
      ['counties', 'us_counties', 3231],
      ['places', 'world_places', files.placeCount],
    ]);
    expect(run.lineage).toEqual({ inputs: manifest.inputs });

    const counties = JSON.parse(await readFile(files.counties, 'utf8')) as {
      features: { properties: { geoid: string }; geometry: { type: string; coordinates: unknown } }[];
    };
    const shapes = counties.features.map((f) => {
      const polygons = (
        f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates
      ) as Ring[][];
      const xs = polygons.flat(2).map((c) => c[0]);
      const ys = polygons.flat(2).map((c) => c[1]);
      return {
        geoid: f.properties.geoid,
        polygons,
        box: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)],
      };
    });
    const places = parseCsv(await readFile(files.places, 'utf8'), { columns: true }) as Record<
      string,
      string
    >[];
    const expected = new Map<string, number>();
    for (const place of places) {
      if (place.country !== 'US') continue;
      const x = Number(place.lon);
      const y = Number(place.lat);
      const hit = shapes.find(
        (s) =>
          x >= s.box[0]! && x <= s.box[2]! && y >= s.box[1]! && y <= s.box[3]! && contains(s.polygons, x, y),
      );
      if (hit) expected.set(hit.geoid, (expected.get(hit.geoid) ?? 0) + 1);
    }
    const summary = manifest.outputs.find((o) => o.name === 'county_summary' && o.format === 'csv')!;
    const rows = parseCsv(await egress(summary.key), { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(3231);
    const actual = new Map(
      rows.filter((r) => Number(r.place_count) > 0).map((r) => [r.geoid!, Number(r.place_count)]),
    );
    expect(actual).toEqual(expected);
    expect([...actual.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(16_000);
  });

  it('publishes manifest checksums that match the bytes, and latest last', async () => {
    const manifest = await readManifest(p.store, 'county_places');
    for (const o of manifest.outputs) {
      const bytes = await readFile(p.store.locate('egress', o.key));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(o.sha256);
      expect(bytes.length).toBe(o.size);
    }
    const geojson = JSON.parse(await egress(manifest.outputs.find((o) => o.format === 'geojson')!.key));
    expect(geojson.type).toBe('FeatureCollection');
    expect(geojson.features).toHaveLength(3231);
    expect((await readLatest(p.store, 'county_places'))?.version).toBe(manifest.version);
  });

  describe('with a small catalog', () => {
    let catalog: Catalog;
    beforeAll(async () => {
      catalog = await writeCatalog(join(p.dir, 'small'), {
        datasets: {
          notes: {
            format: 'csv',
            columns: [
              { name: 'id', type: 'integer', required: true },
              { name: 'note', type: 'text' },
              { name: 'lon', type: 'double' },
              { name: 'lat', type: 'double' },
            ],
            geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat' },
          },
        },
        products: {
          copy: {
            product: {
              inputs: { notes: 'notes' },
              checks: [{ type: 'row_count', table: 'out', max: 3 }],
              outputs: [{ table: 'out', formats: ['csv', 'geojson'], orderBy: ['id'] }],
            },
            sql: { '010_out.sql': 'CREATE TABLE out AS SELECT id, note, geom FROM notes;' },
          },
          broken: {
            product: { inputs: { notes: 'notes' }, outputs: [{ table: 'out' }] },
            sql: { '010_out.sql': '-- a comment\nCREATE TABLE out AS\nSELECT id, nope FROM notes;' },
          },
          pinned: {
            product: {
              inputs: { notes: { dataset: 'notes', version: '20200101T000000000Z-deadbeef' } },
              outputs: [{ table: 'out' }],
            },
            sql: { '010_out.sql': 'CREATE TABLE out AS SELECT * FROM notes;' },
          },
        },
      });
    });

    it('round-trips awkward text byte for byte through CSV and GeoJSON', async () => {
      const awkward = [
        'back\\slash \\N \\t',
        'quote " and ""',
        'new\nline\r\nand cr',
        'comma, semi; tab\there',
        'ünïcödé ✓ 日本',
        '',
      ];
      const asCsv = (texts: string[]) =>
        `id,note,lon,lat\n${texts.map((t, i) => `${i + 1},"${t.replace(/"/g, '""')}",${i},${i}`).join('\n')}\n`;
      // The product's row_count check allows three rows: the strings go in two versions.
      const notes = awkward.slice(0, 3);
      await ingest(catalog, 'notes', await file('notes.csv', asCsv(notes)));
      const run = await build(catalog, 'copy');
      expect(run.status).toBe('succeeded');
      const manifest = await readManifest(p.store, 'copy');
      const csvOut = parseCsv(await egress(manifest.outputs[0]!.key), { columns: true }) as Record<
        string,
        string
      >[];
      expect(csvOut.map((r) => r.note)).toEqual(notes);
      expect(csvOut[1]!.geometry).toBe('POINT(1 1)');
      const geo = JSON.parse(await egress(manifest.outputs[1]!.key));
      expect(geo.features.map((f: { properties: { note: string } }) => f.properties.note)).toEqual(notes);
      expect(geo.features[2].geometry).toEqual({ type: 'Point', coordinates: [2, 2] });
      // The rest of the awkward strings, as a second version.
      const rest = awkward.slice(3);
      await ingest(catalog, 'notes', await file('notes2.csv', asCsv(rest)));
      expect((await build(catalog, 'copy')).status).toBe('succeeded');
      const m2 = await readManifest(p.store, 'copy');
      const csv2 = parseCsv(await egress(m2.outputs[0]!.key), { columns: true }) as Record<string, string>[];
      const geo2 = JSON.parse(await egress(m2.outputs[1]!.key));
      expect(csv2.map((r) => r.note)).toEqual(rest);
      expect(geo2.features.map((f: { properties: { note: string } }) => f.properties.note)).toEqual(rest);
    });

    it('orders outputs by the values of the table, so ids sort as numbers in CSV as in GeoJSON', async () => {
      await ingest(
        catalog,
        'notes',
        await file('ids.csv', 'id,note,lon,lat\n10,ten,0,0\n9,nine,1,1\n2,two,2,2\n'),
      );
      expect((await build(catalog, 'copy')).status).toBe('succeeded');
      const m = await readManifest(p.store, 'copy');
      const csvOut = parseCsv(await egress(m.outputs[0]!.key), { columns: true }) as Record<string, string>[];
      expect(csvOut.map((r) => r.id)).toEqual(['2', '9', '10']);
      const geo = JSON.parse(await egress(m.outputs[1]!.key));
      expect(geo.features.map((f: { properties: { id: number } }) => f.properties.id)).toEqual([2, 9, 10]);
    });

    it('publishes nothing when a check fails, leaves latest alone, and keeps the build schema for gc', async () => {
      const before = await readLatest(p.store, 'copy');
      const versionsBefore = await listProductVersions(p.store, 'copy');
      await ingest(
        catalog,
        'notes',
        await file('four.csv', 'id,note,lon,lat\n1,a,0,0\n2,b,0,0\n3,c,0,0\n4,d,0,0\n'),
      );
      const run = await build(catalog, 'copy');
      expect(run.status).toBe('failed');
      expect(run.error).toMatchObject({ code: 'CHECK_FAILED' });
      expect(run.error?.message).toMatch(/out\.row_count \(4 rows, expected <= 3\)/);
      expect(await readLatest(p.store, 'copy')).toEqual(before);
      expect(await listProductVersions(p.store, 'copy')).toEqual(versionsBefore);
      const schema = String(run.error?.buildSchema);
      const kept = await p.db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      expect(kept).toHaveLength(1);
      expect((await collectBuildSchemas(p.db, catalog)).map((s) => s.schema)).not.toContain(schema);
      expect((await collectBuildSchemas(p.db, catalog, { all: true })).map((s) => s.schema)).toContain(
        schema,
      );
      expect(await p.db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).toHaveLength(0);
    });

    it('names the SQL file and line of a failing step', async () => {
      const run = await build(catalog, 'broken');
      expect(run.status).toBe('failed');
      expect(run.error).toMatchObject({ code: 'BUILD_FAILED', step: '010_out.sql', line: 3 });
      expect(run.error?.message).toMatch(/step 010_out\.sql \(line 3\) failed: column "nope" does not exist/);
      expect(await readLatest(p.store, 'broken')).toBeUndefined();
    });

    it('fails at plan when a pinned input version does not exist', async () => {
      await expect(planBuild(p.db, catalog.products.get('pinned')!)).rejects.toThrow(BuildError);
      await expect(planBuild(p.db, catalog.products.get('pinned')!)).rejects.toThrow(
        /dataset "notes" has no version "20200101T000000000Z-deadbeef"/,
      );
    });

    it('keeps two builds of one product at once from corrupting each other', async () => {
      await ingest(catalog, 'notes', await file('two.csv', 'id,note,lon,lat\n1,x,0,0\n2,y,0,0\n'));
      const a = await submit(p, { kind: 'build', product: 'copy' }, { kind: 'cli' });
      const b = await submit(p, { kind: 'build', product: 'copy' }, { kind: 'cli' });
      const jobs = await p.queue.receive(2, 60);
      const runs = await Promise.all(jobs.map((j) => executeJob(p, catalog, j.job)));
      expect(runs.map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
      // The second waits for the first and then builds: both asked by hand, both publish.
      expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
      const published = runs.map((r) => String(r.result?.version));
      expect(new Set(published).size).toBe(2);
      for (const v of published) {
        const m: Manifest = await readManifest(p.store, 'copy', v);
        const csv = parseCsv(await egress(m.outputs[0]!.key), { columns: true }) as Record<string, string>[];
        expect(csv.map((r) => r.note)).toEqual(['x', 'y']);
      }
      expect(published).toContain((await readLatest(p.store, 'copy'))?.version);
    });
  });
});
