import { readFile } from 'node:fs/promises';
import { deserialize } from 'flatgeobuf/lib/mjs/geojson.js';
import type { Feature } from 'geojson';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Output } from '../../runtime/catalog/schema.ts';
import { FlatGeobufFile } from '../../runtime/features/flatgeobuf.ts';
import { exportOutput, tableShape } from '../../runtime/publish/export.ts';
import { exportFlatGeobuf } from '../../runtime/publish/export-flatgeobuf.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { gdal } from '../helpers/gdal.ts';

/**
 * Strata's own FlatGeobuf writer, read back three ways — by GDAL, by the `flatgeobuf` package and by the
 * partner API's range reader — and compared with the rows it was written from, on both engines.
 */

const TABLES = `
  CREATE SCHEMA fgb;
  CREATE TABLE fgb.mixed (
    id integer, small smallint, big bigint, r real, d double precision, n numeric(6, 2), flag boolean,
    day date, ts timestamp, tz timestamptz, j json, jb jsonb, txt text, "Name, with space" text,
    geom geometry(Geometry, 27700));
  INSERT INTO fgb.mixed VALUES
    (1, 7, 9007199254740993, 0.1, 0.30000000000000004, 12.5, true, '2024-02-29', '2024-01-02 03:04:05.678',
     '2024-01-02 03:04:05+02', '{"a": [1, 2]}', '{"b": null}', E'Café, "quoted"\\nline', 'x',
     'SRID=27700;POINT(530000 180000)'),
    (2, NULL, NULL, NULL, NULL, NULL, false, NULL, '2024-01-02 03:04:05', NULL, NULL, NULL, '', NULL,
     'SRID=27700;LINESTRING(530000 180000, 531000 181000, 532000 180500)'),
    (3, -32768, -9223372036854775808, -1.5, -1e300, -0.01, NULL, '1970-01-01', NULL, '2024-06-30 23:59:59.5+00',
     '[]', '"s"', NULL, NULL,
     'SRID=27700;POLYGON((500000 100000, 510000 100000, 510000 110000, 500000 110000, 500000 100000),
                         (502000 102000, 502000 104000, 504000 104000, 502000 102000))'),
    (4, 4, 4, 4, 4, 4, true, NULL, NULL, NULL, NULL, NULL, 'four', NULL,
     'SRID=27700;MULTIPOINT((400000 300000), (401000 301000))'),
    (5, 5, 5, 5, 5, 5, true, NULL, NULL, NULL, NULL, NULL, 'five', NULL,
     'SRID=27700;MULTILINESTRING((400000 300000, 401000 301000), (402000 302000, 403000 303000, 404000 302000))'),
    (6, 6, 6, 6, 6, 6, true, NULL, NULL, NULL, NULL, NULL, 'six', NULL,
     'SRID=27700;MULTIPOLYGON(((300000 300000, 301000 300000, 301000 301000, 300000 300000)),
       ((310000 310000, 320000 310000, 320000 320000, 310000 320000, 310000 310000),
        (311000 311000, 311000 312000, 312000 312000, 311000 311000)))'),
    (7, 7, 7, 7, 7, 7, true, NULL, NULL, NULL, NULL, NULL, 'seven', NULL,
     'SRID=27700;GEOMETRYCOLLECTION(POINT(450000 450000), LINESTRING(450000 450000, 451000 452000),
       POLYGON((440000 440000, 441000 440000, 441000 441000, 440000 440000)))'),
    (8, 8, 8, 8, 8, 8, true, NULL, NULL, NULL, NULL, NULL, 'no geometry', NULL, NULL),
    (9, 9, 9, 9, 9, 9, true, NULL, NULL, NULL, NULL, NULL, 'empty', NULL, 'SRID=27700;POINT EMPTY'),
    (10, 10, 10, 10, 10, 10, true, NULL, NULL, NULL, NULL, NULL, 'one line', NULL,
     'SRID=27700;MULTILINESTRING((400000 300000, 401000 301000))');
  CREATE TABLE fgb.z3 (id integer, geom geometry(LineStringZ, 4326));
  INSERT INTO fgb.z3 VALUES (1, 'SRID=4326;LINESTRING Z(1 2 3, 4 5 6)'), (2, 'SRID=4326;LINESTRING Z(-1 -2 -3.5, 0 0 0)');
  CREATE TABLE fgb.nothing (id integer, name text, geom geometry(Point, 4326));
  CREATE TABLE fgb.grid AS
    SELECT (x * 1000 + y)::int AS id, 'cell ' || x || ',' || y AS name,
           ST_SetSRID(ST_MakePoint(-10 + x * 0.01, 40 + y * 0.01), 4326)::geometry(Point, 4326) AS geom
    FROM generate_series(0, 99) x, generate_series(0, 59) y;
  -- Features longer than a read of the work file (1 MB): a polygon of some 126,000 vertices between small ones.
  CREATE TABLE fgb.large AS
    SELECT g AS id, CASE WHEN g = 50 THEN ST_Segmentize(ST_Buffer(ST_MakePoint(0, 0), 1), 0.00005)
                         ELSE ST_Buffer(ST_MakePoint(g, g), 0.5, 2) END::geometry(Polygon, 4326) AS geom
    FROM generate_series(1, 100) g;
`;

/** What GDAL reads of each row of `fgb.mixed` (its GeoJSON, with 64-bit integers kept as digits). */
const MIXED: Record<number, Record<string, unknown>> = {
  1: {
    small: 7,
    big: '9007199254740993',
    r: 0.1,
    d: 0.30000000000000004,
    n: 12.5,
    flag: true,
    day: '2024-02-29T00:00:00',
    ts: '2024-01-02T03:04:05.678',
    tz: '2024-01-02T01:04:05Z',
    j: '{"a": [1, 2]}',
    jb: '{"b": null}',
    txt: 'Café, "quoted"\nline',
    'Name, with space': 'x',
  },
  2: { flag: false, ts: '2024-01-02T03:04:05', txt: '' },
  3: {
    small: -32768,
    big: '-9223372036854775808',
    r: -1.5,
    d: -1e300,
    n: -0.01,
    day: '1970-01-01T00:00:00',
    tz: '2024-06-30T23:59:59.500Z',
    j: '[]',
    jb: '"s"',
  },
};

const big = (text: string) => JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"'));

interface Read {
  id: number;
  properties: Record<string, unknown>;
  geometry: { type: string; coordinates?: unknown; geometries?: unknown[] };
}

/** Every feature as GDAL reads it (ogr2ogr to GeoJSON, 17 significant digits), by id. */
async function readByGdal(path: string): Promise<Map<number, Read>> {
  const out = await gdal('ogr2ogr', [
    '-f',
    'GeoJSON',
    '/vsistdout/',
    path,
    '-lco',
    'RFC7946=NO',
    '-lco',
    'SIGNIFICANT_FIGURES=17',
  ]);
  const doc = big(out) as { features: { properties: Record<string, unknown>; geometry: Read['geometry'] }[] };
  return new Map(doc.features.map((f) => [Number(f.properties.id), { ...f, id: Number(f.properties.id) }]));
}

/**
 * A value as GDAL read it against the value written: GDAL's GeoJSON writer prints some doubles shorter
 * (0.30000000000000004 as 0.3) and writes text holding a JSON object as that object; neither is the file.
 */
function sameValue(read: unknown, written: unknown): boolean {
  if (typeof read === 'number' && typeof written === 'number')
    return Math.abs(read - written) <= 1e-15 * Math.abs(written);
  const parsed = (v: unknown) => {
    try {
      return typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
    } catch {
      return v;
    }
  };
  if (typeof read === 'object' && read !== null && typeof written === 'string')
    return JSON.stringify(read) === JSON.stringify(parsed(written));
  return JSON.stringify(read) === JSON.stringify(written);
}

function expectSameProperties(read: Record<string, unknown>, written: Record<string, unknown>, at: string) {
  expect(Object.keys(read).sort(), at).toEqual(Object.keys(written).sort());
  for (const [k, v] of Object.entries(written))
    expect(sameValue(read[k], v), `${at} ${k}: ${JSON.stringify(read[k])}`).toBe(true);
}

const byId = (features: Feature[]) =>
  new Map(features.map((f) => [Number(f.properties!.id), f as unknown as Read]));

/** Geometries equal to within `tolerance` on every ordinate (GDAL prints 17 digits, not the doubles). */
function sameGeometry(a: unknown, b: unknown, tolerance: number): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= tolerance;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => sameGeometry(x, b[i], tolerance));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).filter((k) => k !== 'bbox');
    return ka.every((k) => sameGeometry((a as never)[k], (b as never)[k], tolerance));
  }
  return a === b;
}

describe.each(engines())('FlatGeobuf written by Strata on $name', (engine) => {
  let p: TestPlatform;
  const files = new Map<string, { path: string; rows: number; bytes: Buffer; sha256: string }>();
  /** The rows of a table as PostGIS has them in EPSG:4326, as GeoJSON geometry by id. */
  const sourceGeometries = async (table: string) => {
    const rows = await p.db.query<{ id: number; g: string }>(
      `SELECT id, ST_AsGeoJSON(ST_Transform(geom, 4326), 15) AS g FROM fgb.${table}
       WHERE geom IS NOT NULL AND NOT ST_IsEmpty(geom)`,
    );
    return new Map(rows.map((r) => [Number(r.id), JSON.parse(r.g) as Read['geometry']]));
  };

  beforeAll(async () => {
    p = await testPlatform(engine);
    await p.db.exec(TABLES);
    for (const table of ['mixed', 'z3', 'nothing', 'grid', 'large']) {
      const output = { ...Output.parse({ table, formats: ['flatgeobuf'] }), orderBy: ['id'] };
      const f = await exportOutput(p.db, p.store, {
        schema: 'fgb',
        output,
        format: 'flatgeobuf',
        prefix: 'p/',
      });
      const path = p.store.locate('egress', f.key);
      const bytes = await readFile(path);
      files.set(table, { path, rows: f.rows, bytes, sha256: f.sha256 });
    }
  }, 120_000);
  afterAll(async () => p?.close());

  it('counts the features it wrote: none without a position', () => {
    expect(files.get('mixed')!.rows).toBe(8);
    expect(files.get('z3')!.rows).toBe(2);
    expect(files.get('nothing')!.rows).toBe(0);
    expect(files.get('grid')!.rows).toBe(6000);
  });

  it('is read by GDAL with every column, type and value of the rows, in EPSG:4326', async () => {
    const { path } = files.get('mixed')!;
    const info = await gdal('ogrinfo', ['-ro', '-so', '-al', path]);
    expect(info).toContain('Layer name: mixed');
    expect(info).toContain('Feature Count: 8');
    expect(info).toMatch(/ID\["EPSG",4326\]\]/);
    const fields = [...info.matchAll(/^(.+): (\w+(?:\(\w+\))?) \(/gm)]
      .map((m) => `${m[1]}:${m[2]}`)
      .filter((f) => !f.startsWith('Geometry:'));
    expect(fields).toEqual([
      'id:Integer',
      'small:Integer',
      'big:Integer64',
      'r:Real',
      'd:Real',
      'n:Real',
      'flag:Integer(Boolean)',
      'day:DateTime',
      'ts:DateTime',
      'tz:DateTime',
      'j:String',
      'jb:String',
      'txt:String',
      'Name, with space:String',
    ]);
    const read = await readByGdal(path);
    const source = await sourceGeometries('mixed');
    expect([...read.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 10]);
    for (const [id, expected] of Object.entries(MIXED))
      expectSameProperties(read.get(Number(id))!.properties, { id: Number(id), ...expected }, `row ${id}`);
    for (const [id, f] of read) {
      expect(f.geometry.type, `row ${id}`).toBe(source.get(id)!.type);
      expect(sameGeometry(f.geometry, source.get(id), 1e-12), `row ${id}`).toBe(true);
    }
  });

  it('keeps Z, and writes an empty table as a file of no features and no index', async () => {
    const z = await readByGdal(files.get('z3')!.path);
    expect(z.get(1)!.geometry).toEqual({
      type: 'LineString',
      coordinates: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    });
    expect(z.get(2)!.geometry).toEqual({
      type: 'LineString',
      coordinates: [
        [-1, -2, -3.5],
        [0, 0, 0],
      ],
    });
    const info = await gdal('ogrinfo', ['-ro', '-so', '-al', files.get('nothing')!.path]);
    expect(info).toContain('Feature Count: 0');
    expect(info).toContain('Geometry: Point');
    expect(info).toMatch(/name: String/);
    const file = await FlatGeobufFile.open(
      async (s, e) => files.get('nothing')!.bytes.subarray(s, e),
      files.get('nothing')!.bytes.length,
    );
    expect([file.count, file.nodeSize]).toEqual([0, 0]);
  });

  it('is read alike by GDAL, the flatgeobuf package and the range reader', async () => {
    for (const table of ['mixed', 'z3', 'grid']) {
      const { path, bytes } = files.get(table)!;
      const byGdal = await readByGdal(path);
      const byPackage: Feature[] = [];
      for await (const f of deserialize(new Uint8Array(bytes)) as AsyncGenerator<Feature>) byPackage.push(f);
      const file = await FlatGeobufFile.open(async (s, e) => bytes.subarray(s, e), bytes.length);
      const byRanges = (await file.page(0, file.count + 1)).features;
      // The package and the range reader decode the same flatbuffers: they agree exactly, in file order.
      if (table === 'mixed') {
        const one = byId(byPackage).get(1)!.properties;
        expect([one.d, one.r, one.j, one.txt]).toEqual([
          0.30000000000000004,
          0.1,
          '{"a": [1, 2]}',
          MIXED[1]!.txt,
        ]);
      }
      expect(byRanges.map((f) => [f.properties, f.geometry])).toEqual(
        byPackage.map((f) => [f.properties, f.geometry]),
      );
      const pkg = byId(byPackage);
      expect([...pkg.keys()].sort()).toEqual([...byGdal.keys()].sort());
      for (const [id, f] of byGdal) {
        const g = pkg.get(id)!;
        expect(sameGeometry(g.geometry, f.geometry, 1e-12), `${table} ${id}`).toBe(true);
        // 64-bit integers are digits in GDAL's GeoJSON, doubles in the package (which cannot hold them all).
        const { big: _a, ...written } = g.properties;
        const { big: _b, ...read } = f.properties;
        expectSameProperties(read, written, `${table} ${id}`);
      }
    }
  });

  it('has an index a bbox query reads little of, and finds what a scan finds', async () => {
    const { bytes } = files.get('grid')!;
    let read = 0;
    const file = await FlatGeobufFile.open(async (s, e) => {
      read += e - s;
      return bytes.subarray(s, e);
    }, bytes.length);
    const all = (await file.page(0, file.count)).features;
    const box = [-9.5, 40.2, -9.4, 40.25] as const;
    const inBox = all
      .filter((f) => {
        const [x, y] = (f.geometry as { coordinates: number[] }).coordinates as [number, number];
        return x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3];
      })
      .map((f) => f.properties!.id)
      .sort();
    expect(inBox.length).toBe(11 * 6);
    read = 0;
    const found = await file.search(box, 0, 1000);
    expect(found.features.map((f) => f.properties!.id).sort()).toEqual(inBox);
    expect(read).toBeLessThan(bytes.length / 10);
    expect(await file.countMeeting(box)).toBe(inBox.length);
    const byPackage: number[] = [];
    // The package's index search prints its every step with console.debug.
    vi.spyOn(console, 'debug').mockImplementation(() => {});
    const rect = { minX: box[0], minY: box[1], maxX: box[2], maxY: box[3] };
    for await (const f of deserialize(new Uint8Array(bytes), { rect }) as AsyncGenerator<Feature>)
      byPackage.push(f.properties!.id as number);
    expect(byPackage.sort()).toEqual(inBox);
    const byGdal = await gdal('ogrinfo', [
      '-ro',
      '-q',
      '-spat',
      ...box.map(String),
      files.get('grid')!.path,
      'grid',
    ]);
    expect((byGdal.match(/^OGRFeature/gm) ?? []).length).toBe(inBox.length);
  });

  it('writes the same bytes however small the window its features are copied through', async () => {
    for (const table of ['grid', 'large']) {
      const shape = await tableShape(p.db, 'fgb', { ...Output.parse({ table }), orderBy: ['id'] });
      const output = { ...Output.parse({ table, name: `${table}_windows` }), orderBy: ['id'] };
      const f = await exportFlatGeobuf(
        p.db,
        p.store,
        shape,
        { schema: 'fgb', output, format: 'flatgeobuf', prefix: 'p/' },
        4096,
      );
      const bytes = await readFile(p.store.locate('egress', f.key));
      expect(f.rows).toBe(files.get(table)!.rows);
      // Past the header (which names the layer): the index and the features, byte for byte.
      const afterHeader = (b: Buffer) => b.subarray(12 + b.readUInt32LE(8));
      const one = afterHeader(files.get(table)!.bytes);
      expect(one.length).toBeGreaterThan(6 * 4096);
      expect(afterHeader(bytes).equals(one), table).toBe(true);
    }
    const large = await readByGdal(files.get('large')!.path);
    expect(large.size).toBe(100);
    const [{ n }] = (await p.db.query<{ n: number }>(
      'SELECT ST_NPoints(geom) AS n FROM fgb.large WHERE id = 50',
    )) as [{ n: number }];
    expect(n * 16).toBeGreaterThan(1 << 20);
    expect((large.get(50)!.geometry.coordinates as number[][][])[0]!.length).toBe(n);
  });
});
