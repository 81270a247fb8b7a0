import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PgDatabase } from '../../runtime/adapters/postgres/pg-database.ts';
import { archiveFile, listVersions } from '../../runtime/archive/archive.ts';
import { checkArchive, isDamage } from '../../runtime/archive/check.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { migrate } from '../../runtime/db/migrate.ts';
import { ContractError, LoadError } from '../../runtime/errors.ts';
import { executeJob } from '../../runtime/jobs/execute.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { loadVersion } from '../../runtime/load/load.ts';
import { collectStaleLoads } from '../../runtime/products/gc.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, freshDatabaseUrl, type TestPlatform, testPlatform } from '../helpers/engines.ts';

const placesColumns = [
  { name: 'id', type: 'integer', required: true, unique: true },
  { name: 'name', type: 'text' },
  { name: 'population', type: 'bigint', min: 0 },
  { name: 'lon', type: 'double' },
  { name: 'lat', type: 'double' },
];

describe.each(engines())('ingest and load on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  let n = 0;
  const file = async (name: string, body: string | Buffer) => {
    const path = join(p.dir, `${++n}-${name}`);
    await writeFile(path, body);
    return path;
  };
  const ingest = (dataset: string, path: string) =>
    runIngest(p, catalog, {
      dataset,
      path,
      filename: path.split('/').pop()!,
      origin: { kind: 'file', from: path },
    });
  const failure = async (dataset: string, path: string): Promise<LoadError> => {
    const e = await ingest(dataset, path).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(LoadError);
    return e as LoadError;
  };
  const tables = async (prefix: string) =>
    (
      await p.db.query<{ t: string }>(
        `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'datasets' AND table_name LIKE $1 AND table_type = 'BASE TABLE'`,
        [`${prefix}@%`],
      )
    ).map((r) => r.t);

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await writeCatalog(join(p.dir, 'catalog'), {
      datasets: {
        places: {
          format: 'csv',
          columns: placesColumns,
          geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat' },
        },
        places_bng: {
          format: 'csv',
          columns: placesColumns,
          geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat', sourceSrid: 4326, targetSrid: 27700 },
        },
        parcels: {
          format: 'csv',
          csv: { delimiter: ';' },
          columns: [
            { name: 'ref', source: 'Parcel Ref', type: 'text', required: true },
            { name: 'wkt', type: 'text' },
          ],
          geometry: { kind: 'wkt', column: 'wkt', sourceSrid: 27700, targetSrid: 4326 },
        },
        // No unique column: a large file may be loaded by several COPY statements at once.
        trees: {
          format: 'csv',
          columns: [
            { name: 'id', type: 'integer', required: true },
            { name: 'note', type: 'text' },
            { name: 'height', type: 'double', min: 0 },
            { name: 'lon', type: 'double' },
            { name: 'lat', type: 'double' },
          ],
          geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat' },
        },
        areas: {
          format: 'geojson',
          columns: [
            { name: 'code', type: 'text', required: true },
            { name: 'score', type: 'integer' },
            { name: 'tags', type: 'json' },
          ],
          geometry: { kind: 'geojson' },
        },
      },
    });
  });
  afterAll(async () => p?.close());
  beforeEach(() => undefined);

  it('archives a CSV as an immutable version and loads it with geometry built from lon/lat', async () => {
    // Prepare
    const path = await file(
      'places.csv',
      'id,name,population,lon,lat\n1,"Leeds, ""city""",800000,-1.5491,53.8008\n2,Bradford,,-1.7594,53.7960\n',
    );
    // Act
    const { result } = await ingest('places', path);
    // Assess
    expect(result).toMatchObject({ created: true, rows: 2, loaded: true });
    const rows = await p.db.query<{ name: string; population: string | null; wkt: string; srid: number }>(
      `SELECT name, population::text AS population, ST_AsText(geom) AS wkt, ST_SRID(geom) AS srid FROM datasets.places ORDER BY id`,
    );
    expect(rows).toEqual([
      { name: 'Leeds, "city"', population: '800000', wkt: 'POINT(-1.5491 53.8008)', srid: 4326 },
      { name: 'Bradford', population: null, wkt: 'POINT(-1.7594 53.796)', srid: 4326 },
    ]);
    const meta = JSON.parse(
      await (async () => {
        const chunks: Buffer[] = [];
        for await (const c of await p.store.get('archive', `datasets/places/${result.version}/metadata.json`))
          chunks.push(c as Buffer);
        return Buffer.concat(chunks).toString();
      })(),
    );
    expect(meta).toMatchObject({
      dataset: 'places',
      version: result.version,
      size: Buffer.byteLength(await readFile(path)),
      origin: { kind: 'file' },
    });
    expect(meta.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(String(result.version)).toMatch(new RegExp(`^\\d{8}T\\d{9}Z-${meta.sha256.slice(0, 8)}$`));
  });

  it('makes no second version for the same bytes, and the run says so', async () => {
    const body = 'id,name,population,lon,lat\n7,Hull,260000,-0.3367,53.7457\n';
    const first = await ingest('places', await file('a.csv', body));
    const again = await submit(
      p,
      { kind: 'ingest', dataset: 'places', source: { path: await file('b.csv', body) }, filename: 'b.csv' },
      { kind: 'cli' },
    );
    const run = await executeJob(p, catalog, (await p.queue.receive(1, 60))[0]!.job);
    expect(run.id).toBe(again.id);
    expect(run.status).toBe('succeeded');
    expect(run.result).toMatchObject({
      created: false,
      duplicateOf: first.result.version,
      version: first.result.version,
    });
    const versions = await listVersions(p.db, 'places');
    expect(
      versions.filter((v) => v.sha256 === versions.find((x) => x.version === first.result.version)!.sha256),
    ).toHaveLength(1);
  });

  it('finds a version in the archive itself when the database has forgotten it, reading only its metadata', async () => {
    const path = await file('kept.csv', 'id\n1\n');
    const archive = () =>
      archiveFile(p.db, p.store, { dataset: 'kept_elsewhere', path, origin: { kind: 'file', from: path } });
    const first = await archive();
    // Another version of the same dataset, whose metadata must not be read on the way.
    const other = await file('other.csv', 'id\n2\n');
    await archiveFile(p.db, p.store, {
      dataset: 'kept_elsewhere',
      path: other,
      origin: { kind: 'file', from: other },
    });
    await p.db.query('DELETE FROM strata.dataset_versions WHERE dataset = $1', ['kept_elsewhere']);
    const reads: string[] = [];
    const get = p.store.get.bind(p.store);
    const store = Object.assign(Object.create(p.store), {
      get: (bucket: 'archive', key: string) => {
        reads.push(key);
        return get(bucket, key);
      },
    });
    const again = await archiveFile(p.db, store, {
      dataset: 'kept_elsewhere',
      path,
      origin: { kind: 'file', from: path },
    });
    expect(again).toMatchObject({ created: false, version: { version: first.version.version } });
    expect(reads).toEqual([`datasets/kept_elsewhere/${first.version.version}/metadata.json`]);
    expect((await listVersions(p.db, 'kept_elsewhere')).map((v) => v.version)).toEqual([
      first.version.version,
    ]);
  });

  it('never overwrites an archived object', async () => {
    const path = await file('c.csv', 'id,name,population,lon,lat\n9,York,200000,-1.08,53.96\n');
    const { version } = await archiveFile(p.db, p.store, {
      dataset: 'places',
      path,
      origin: { kind: 'file', from: path },
    });
    await expect(p.store.put('archive', version.key, 'something else')).rejects.toThrow(/never overwritten/);
  });

  it('transforms from the source CRS to the target CRS', async () => {
    const { result } = await ingest(
      'places_bng',
      await file('bng.csv', 'id,name,population,lon,lat\n1,Leeds,1,-1.5491,53.8008\n'),
    );
    const [row] = await p.db.query<{ x: number; y: number; srid: number; lon: number; lat: number }>(
      `SELECT ST_X(geom) AS x, ST_Y(geom) AS y, ST_SRID(geom) AS srid,
         ST_X(ST_Transform(geom, 4326)) AS lon, ST_Y(ST_Transform(geom, 4326)) AS lat FROM datasets."${result.table}"`,
    );
    // Stored in British National Grid metres: Leeds lies in the 10 km squares SE 2x 3x.
    expect(row!.srid).toBe(27700);
    expect(row!.x).toBeGreaterThan(420_000);
    expect(row!.x).toBeLessThan(440_000);
    expect(row!.y).toBeGreaterThan(430_000);
    expect(row!.y).toBeLessThan(440_000);
    // and it is the same place: back to WGS84 within a millimetre.
    expect(row!.lon).toBeCloseTo(-1.5491, 7);
    expect(row!.lat).toBeCloseTo(53.8008, 7);
  });

  it('reads WKT with a header mapped from the source name and another delimiter', async () => {
    const { result } = await ingest(
      'parcels',
      await file(
        'parcels.csv',
        'Parcel Ref;wkt\nP1;POLYGON((430000 433000,430100 433000,430100 433100,430000 433000))\n',
      ),
    );
    const [row] = await p.db.query<{ ref: string; t: string; srid: number }>(
      `SELECT ref, ST_GeometryType(geom) AS t, ST_SRID(geom) AS srid FROM datasets."${result.table}"`,
    );
    expect(row).toEqual({ ref: 'P1', t: 'ST_Polygon', srid: 4326 });
  });

  it('loads GeoJSON with mixed geometry types and typed properties, streamed', async () => {
    const fc = {
      type: 'FeatureCollection',
      features: [
        {
          type: 'Feature',
          properties: { code: 'a', score: 1, tags: ['x'] },
          geometry: { type: 'Point', coordinates: [1, 2] },
        },
        {
          type: 'Feature',
          properties: { code: 'b\\"}{', score: null },
          geometry: {
            type: 'LineString',
            coordinates: [
              [0, 0],
              [1, 1],
            ],
          },
        },
        {
          type: 'Feature',
          properties: { code: 'c', extra: 'ignored' },
          geometry: {
            type: 'MultiPolygon',
            coordinates: [
              [
                [
                  [0, 0],
                  [1, 0],
                  [1, 1],
                  [0, 0],
                ],
              ],
            ],
          },
        },
        {
          type: 'Feature',
          properties: { code: 'd' },
          geometry: { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: [1, 2] }] },
        },
      ],
    };
    const { result } = await ingest('areas', await file('areas.geojson', JSON.stringify(fc)));
    const rows = await p.db.query<{ code: string; score: number | null; tags: unknown; t: string }>(
      `SELECT code, score, tags::text AS tags, ST_GeometryType(geom) AS t FROM datasets."${result.table}" ORDER BY code`,
    );
    expect(rows).toEqual([
      { code: 'a', score: 1, tags: '["x"]', t: 'ST_Point' },
      { code: 'b\\"}{', score: null, tags: null, t: 'ST_LineString' },
      { code: 'c', score: null, tags: null, t: 'ST_MultiPolygon' },
      { code: 'd', score: null, tags: null, t: 'ST_GeometryCollection' },
    ]);
  });

  it('makes GeoJSON rows on a worker thread for large files, in order, naming a bad feature in a later batch', async () => {
    // Within WGS84's range (a longitude of 30,000 is refused): a thousandth of a degree apart.
    const x = (k: number) => k / 1000;
    const features = Array.from({ length: 30_000 }, (_, i) => ({
      type: 'Feature',
      properties: { code: `c${i}`, score: i, tags: { i } },
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [x(i), 0],
            [x(i + 1), 0],
            [x(i + 1), 1],
            [x(i), 0],
          ],
        ],
      },
    }));
    const path = await file('big.geojson', JSON.stringify({ type: 'FeatureCollection', features }));
    const archived = await archiveFile(p.db, p.store, {
      dataset: 'areas',
      path,
      origin: { kind: 'file', from: path },
    });
    const areas = catalog.datasets.get('areas')!;
    const loaded = await loadVersion(p.db, p.store, areas, archived.version, { workerThresholdBytes: 0 });
    expect(loaded.rows).toBe(30_000);
    const [row] = await p.db.query<{ n: number; ordered: boolean; x: number }>(
      `SELECT count(*)::int AS n, bool_and(score = substr(code, 2)::int) AS ordered, max(ST_XMax(geom))::float8 AS x FROM datasets."${loaded.table}"`,
    );
    expect(row).toEqual({ n: 30_000, ordered: true, x: 30 });

    features[25_001] = {
      ...features[25_001]!,
      properties: { code: 'bad', score: 'many' as unknown as number, tags: { i: 0 } },
    };
    const badPath = await file('big-bad.geojson', JSON.stringify({ type: 'FeatureCollection', features }));
    const bad = await archiveFile(p.db, p.store, {
      dataset: 'areas',
      path: badPath,
      origin: { kind: 'file', from: badPath },
    });
    const e = await loadVersion(p.db, p.store, areas, bad.version, { workerThresholdBytes: 0 }).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(LoadError);
    expect((e as LoadError).problem).toMatchObject({ feature: 25_001, column: 'score' });
  });

  it('refuses Z values the catalog does not keep, naming the feature', async () => {
    const fc = {
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', properties: { code: 'z' }, geometry: { type: 'Point', coordinates: [1, 2, 3] } },
      ],
    };
    const e = await failure('areas', await file('z.geojson', JSON.stringify(fc)));
    expect(e.problem).toMatchObject({ feature: 0, column: 'geometry' });
    expect(e.problem.reason).toMatch(/Z dimension/);
  });

  it('fails on a bad row in the middle, names the line and column, and leaves nothing loaded or versioned', async () => {
    const lines = ['id,name,population,lon,lat'];
    for (let i = 1; i <= 5000; i++) lines.push(`${i},"place\n${i}",${i},-1.5,53.8`);
    lines[3001] = '3001,bad,lots,-1.5,53.8';
    const path = await file('bad-middle.csv', `${lines.join('\n')}\n`);
    const before = await tables('places');
    const e = await failure('places', path);
    // Each good record spans two physical lines; record 3001 starts on line 2 + 2 * 3000.
    expect(e.problem).toMatchObject({ line: 6002, column: 'population' });
    expect(e.message).toMatch(/line 6002, column "population": invalid input syntax for type bigint: "lots"/);
    expect(await tables('places')).toEqual(before);
    // Kept in quarantine, never a version.
    expect(e).toBeInstanceOf(ContractError);
    const versions = await listVersions(p.db, 'places');
    expect(versions.some((v) => v.filename.endsWith('bad-middle.csv'))).toBe(false);
  });

  it('counts lines right when COPY goes in small chunks', async () => {
    const lines = ['id,name,population,lon,lat'];
    for (let i = 1; i <= 2000; i++) lines.push(`${i},p${i},${i},-1.5,53.8`);
    lines[1500] = '1500,p,1,-1.5,95';
    const path = await file('chunks.csv', `${lines.join('\n')}\n`);
    const archived = await archiveFile(p.db, p.store, {
      dataset: 'places',
      path,
      origin: { kind: 'file', from: path },
    });
    const e = await loadVersion(p.db, p.store, catalog.datasets.get('places')!, archived.version, {
      chunkBytes: 1024,
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LoadError);
    expect((e as LoadError).problem).toMatchObject({ line: 1501, column: 'lat' });
    expect((e as LoadError).problem.reason).toMatch(/latitude must be between -90 and 90/);
  });

  describe('a large CSV, in several COPY statements at once where the engine can', () => {
    // Every tenth note spans two physical lines, so lines and records differ.
    const treeLines = (n: number) => {
      const lines = ['id,note,height,lon,lat'];
      for (let i = 1; i <= n; i++)
        lines.push(`${i},${i % 10 === 0 ? `"tall\n${i}"` : `t${i}`},${i % 50},${-2 + i / n},${52 + i / n}`);
      return lines;
    };
    const load = async (name: string, lines: string[]) => {
      const path = await file(name, `${lines.join('\n')}\n`);
      const archived = await archiveFile(p.db, p.store, {
        dataset: 'trees',
        path,
        origin: { kind: 'file', from: path },
      });
      return loadVersion(p.db, p.store, catalog.datasets.get('trees')!, archived.version, {
        chunkBytes: 4096,
        parallelThresholdBytes: 0,
      });
    };
    const staged = async () =>
      (
        await p.db.query(
          `SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'strata_loading'`,
        )
      ).length;

    it('loads every row once, as one statement would', async () => {
      const loaded = await load('trees.csv', treeLines(20_000));
      expect(loaded.copies).toBe(engine.name === 'postgres' ? 2 : 1);
      const [row] = await p.db.query<{ n: number; ids: string; tall: number; x: number; note: string }>(
        `SELECT count(*)::int AS n, sum(id)::text AS ids, count(*) FILTER (WHERE note LIKE 'tall%')::int AS tall,
           max(ST_X(geom)) FILTER (WHERE id = 20000)::float8 AS x,
           min(note) FILTER (WHERE id = 19990) AS note
         FROM datasets."${loaded.table}"`,
      );
      expect(row).toEqual({
        n: 20_000,
        ids: String((20_000 * 20_001) / 2),
        tall: 2000,
        x: -1,
        note: 'tall\n19990',
      });
      expect(await staged()).toBe(0);
      const [indexed] = await p.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = 'datasets' AND tablename = $1`,
        [loaded.table],
      );
      expect(indexed!.n).toBe(1);
    });

    it.runIf(engine.name === 'postgres')(
      'takes a second connection only when one is free, so busy pools never wait on themselves',
      async () => {
        const url = (await freshDatabaseUrl())!;
        const db = await PgDatabase.open(url, { max: 3 });
        let release!: () => void;
        const held = new Promise<void>((r) => {
          release = r;
        });
        try {
          await migrate(db);
          // Two sessions hold two of the pool's three connections while the load runs.
          await Promise.all(
            [0, 1].map(
              () =>
                new Promise<void>((entered) => {
                  void db.session(async () => {
                    await db.query('SELECT 1');
                    entered();
                    await held;
                  });
                }),
            ),
          );
          const path = await file('busy.csv', `${treeLines(5000).join('\n')}\n`);
          const archived = await archiveFile(db, p.store, {
            dataset: 'trees',
            path,
            origin: { kind: 'file', from: path },
          });
          const loaded = await loadVersion(db, p.store, catalog.datasets.get('trees')!, archived.version, {
            chunkBytes: 4096,
            parallelThresholdBytes: 0,
          });
          expect(loaded).toMatchObject({ rows: 5000, copies: 1 });
        } finally {
          release();
          await db.close();
          const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
          await admin.connect();
          await admin.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
          await admin.end();
        }
      },
    );

    it('names the line of a bad row in a later chunk, and leaves nothing loaded or staged', async () => {
      const lines = treeLines(20_000);
      lines[17_001] = '17001,t,-3,-1.5,53.8';
      const e = await load('trees-bad.csv', lines).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(LoadError);
      // 1,700 two-line notes come before record 17001, which starts on line 1 + 17000 + 1700 + 1.
      expect((e as LoadError).problem).toMatchObject({ line: 18_702, column: 'height' });
      expect(await staged()).toBe(0);
      const versions = await listVersions(p.db, 'trees');
      expect(versions.find((v) => v.filename.endsWith('trees-bad.csv'))!.loadedAt).toBeNull();
    });
  });

  it('lets gc drop the staging table of a load that never finished, and only such', async () => {
    const stage = async (name: string, startedAt: string) => {
      await p.db.exec(`CREATE TABLE strata_loading.${name} (id integer)`);
      await p.db.exec(
        `COMMENT ON TABLE strata_loading.${name} IS '${JSON.stringify({ dataset: 'trees', version: 'v', startedAt })}'`,
      );
    };
    await stage('load_old', '2026-01-01T00:00:00.000Z');
    await stage('load_new', new Date().toISOString());
    const dropped = await collectStaleLoads(p.db, { now: new Date('2026-01-02T06:00:00.000Z') });
    expect(dropped).toEqual([
      {
        table: 'strata_loading.load_old',
        dataset: 'trees',
        version: 'v',
        reason: expect.stringMatching(/30\.0 h ago/),
      },
    ]);
    const left = await p.db.query<{ relname: string }>(
      `SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'strata_loading' AND relkind = 'r'`,
    );
    expect(left.map((r) => r.relname)).toEqual(['load_new']);
    await p.db.exec('DROP TABLE strata_loading.load_new');
  });

  it('checks the archive against the database, and with verify the bytes', async () => {
    const csv = (id: number) => `id,name,population,lon,lat\n${id},Check ${id},1,-1.5,53.8\n`;
    const one = (await ingest('places_bng', await file('check1.csv', csv(1)))).result;
    const two = (await ingest('places_bng', await file('check2.csv', csv(2)))).result;
    const clean = await checkArchive(p.db, p.store, ['places_bng'], { verify: true });
    expect(clean.findings).toEqual([]);
    expect(clean.versions).toBeGreaterThanOrEqual(2);

    // An ingest that stopped between the bytes and metadata.json; bytes changed on disk; metadata lost.
    await p.store.put('archive', 'datasets/places_bng/20990101T000000000Z-deadbeef/late.csv', 'id\n');
    const bytesOfOne = (await listVersions(p.db, 'places_bng')).find((v) => v.version === one.version)!.key;
    await writeFile(p.store.locate('archive', bytesOfOne), csv(9));
    await rm(p.store.locate('archive', `datasets/places_bng/${two.version}/metadata.json`));

    const quick = await checkArchive(p.db, p.store, ['places_bng']);
    expect(quick.findings.map((f) => [f.kind, f.version])).toEqual([
      ['incomplete', '20990101T000000000Z-deadbeef'],
      ['missing', two.version],
    ]);
    const full = await checkArchive(p.db, p.store, ['places_bng'], { verify: true });
    expect(full.findings.filter(isDamage).map((f) => [f.kind, f.version])).toEqual([
      ['mismatch', one.version],
      ['missing', two.version],
    ]);
    expect(full.findings.find((f) => f.kind === 'mismatch')!.detail).toMatch(/check1\.csv is \d+ bytes/);
  });

  it('rejects an empty file', async () => {
    const e = await ingest('places', await file('empty.csv', '')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LoadError);
    expect((e as LoadError).message).toMatch(/empty/);
  });

  it('names a missing column, and an undeclared one', async () => {
    const missing = await failure('places', await file('missing.csv', 'id,name,lon,lat\n1,a,0,0\n'));
    expect(missing.problem).toMatchObject({
      line: 1,
      column: 'population',
      reason: 'missing column "population"',
    });
    const extra = await failure(
      'places',
      await file('extra.csv', 'id,name,population,lon,lat,colour\n1,a,1,0,0,red\n'),
    );
    expect(extra.problem).toMatchObject({ line: 1, column: 'colour' });
    expect(extra.problem.reason).toMatch(/not declared in the catalog/);
    // A renamed header is both: the name it has now, and the one the catalog still expects.
    const renamed = await failure(
      'places',
      await file('renamed.csv', 'id,name,populaton,lon,lat\n1,a,1,0,0\n'),
    );
    expect(renamed.problem).toMatchObject({
      line: 1,
      column: 'populaton',
      reason:
        'column "populaton" is not declared in the catalog (datasets/places.yaml); missing column "population" ("population" renamed to "populaton"?)',
    });
  });

  it('loads a huge line', async () => {
    const big = 'x'.repeat(3 * 1024 * 1024);
    const { result } = await ingest(
      'places',
      await file('huge.csv', `id,name,population,lon,lat\n1,"${big}",1,0,0\n2,small,2,1,1\n`),
    );
    expect(result.rows).toBe(2);
    const [row] = await p.db.query<{ n: number }>(
      `SELECT length(name) AS n FROM datasets."${result.table}" WHERE id = 1`,
    );
    expect(row!.n).toBe(big.length);
  });

  it('fails on a non-UTF-8 byte and names the line', async () => {
    const body = Buffer.concat([
      Buffer.from('id,name,population,lon,lat\n1,ok,1,0,0\n2,caf'),
      Buffer.from([0xe9]),
      Buffer.from(',1,0,0\n'),
    ]);
    const e = await failure('places', await file('latin1.csv', body));
    expect(e.problem.line).toBe(3);
    expect(e.problem.reason).toMatch(/invalid byte sequence for encoding "UTF8"/);
  });

  it('names the feature for a bad GeoJSON value and for a broken geometry', async () => {
    const feature = (code: unknown, geometry: unknown) => ({
      type: 'Feature',
      properties: { code, score: 1 },
      geometry,
    });
    const badValue = {
      type: 'FeatureCollection',
      features: [
        feature('a', { type: 'Point', coordinates: [0, 0] }),
        { ...feature('b', { type: 'Point', coordinates: [0, 0] }), properties: { code: 'b', score: 'high' } },
      ],
    };
    const e1 = await failure('areas', await file('bad-value.geojson', JSON.stringify(badValue)));
    expect(e1.problem).toMatchObject({ feature: 1, column: 'score' });
    const badGeom = {
      type: 'FeatureCollection',
      features: [
        feature('a', { type: 'Point', coordinates: [0, 0] }),
        feature('b', { type: 'Polygon', coordinates: [[[0, 'x']]] }),
      ],
    };
    const e2 = await failure('areas', await file('bad-geom.geojson', JSON.stringify(badGeom)));
    expect(e2.problem).toMatchObject({ feature: 1, column: 'geometry' });
    const missing = {
      type: 'FeatureCollection',
      features: [feature(null, { type: 'Point', coordinates: [0, 0] })],
    };
    const e3 = await failure('areas', await file('null-code.geojson', JSON.stringify(missing)));
    expect(e3.problem).toMatchObject({ feature: 0, column: 'code' });
    const notFc = await failure('areas', await file('not-fc.geojson', JSON.stringify(feature('a', null))));
    expect(notFc.problem.reason).toMatch(/FeatureCollection/);
  });
});
