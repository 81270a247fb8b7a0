import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReport } from '../../bin/cli/qa-commands.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { readJson, readText } from '../../runtime/ports/object-store.ts';
import { readLatest, readManifest } from '../../runtime/publish/versions.ts';
import { drawRows } from '../../runtime/qa/map.ts';
import { fingerprint } from '../../runtime/qa/rows.ts';
import { publishedQaLocation, QaLocation, QaReport } from '../../runtime/qa/schema.ts';
import { tableColumns, tableStats } from '../../runtime/qa/stats.ts';
import type { Run } from '../../runtime/runs/schema.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { SITES_DATASET, type Site, sitesCsv } from '../helpers/sites.ts';

/** Forty sites on a grid over England. */
const sites = (): Site[] =>
  Array.from({ length: 40 }, (_, i) => ({
    id: i + 1,
    name: i === 3 ? null : `site ${i + 1}`,
    visits: (i + 1) * 2,
    lon: -3 + (i % 8) * 0.5,
    lat: 51 + Math.floor(i / 8) * 0.5,
  }));
const csv = sitesCsv;

describe.each(engines())('QA reports on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  let n = 0;
  const ingest = async (dataset: string, body: string) => {
    const path = join(p.dir, `${++n}-${dataset}.csv`);
    await writeFile(path, body);
    await runIngest(p, catalog, {
      dataset,
      path,
      filename: `${n}.csv`,
      origin: { kind: 'file', from: path },
    });
  };
  const build = async (product: string): Promise<Run> => {
    const run = await submit(p, { kind: 'build', product }, { kind: 'cli' });
    return workUntil(p, catalog, run.id);
  };
  const report = async (product: string): Promise<QaReport> => {
    const m = await readManifest(p.store, product);
    return QaReport.parse(await readJson(p.store, 'egress', m.qa!.json));
  };

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await writeCatalog(join(p.dir, 'catalog'), {
      datasets: {
        sites: SITES_DATASET,
      },
      products: {
        site_list: {
          product: {
            inputs: { sites: 'sites' },
            checks: [
              { type: 'unique', table: 'keyed', columns: ['id'] },
              { type: 'row_count', table: 'keyed', max: 45 },
            ],
            outputs: [
              { table: 'keyed', key: ['id'], orderBy: ['id'] },
              { table: 'whole', formats: ['csv'] },
              { table: 'areas', formats: ['geojson'], key: ['cell'] },
            ],
          },
          sql: {
            '010_out.sql': `CREATE TABLE keyed AS SELECT id, name, visits, geom FROM sites;
CREATE TABLE whole AS SELECT id, name FROM sites;
CREATE TABLE areas AS SELECT floor(lat)::int AS cell, count(*)::int AS sites,
  ST_Multi(ST_Buffer(ST_Collect(geom)::geography, 1000)::geometry)::geometry(MultiPolygon, 4326) AS geom
FROM sites GROUP BY 1;`,
          },
        },
        empty: {
          product: { inputs: { sites: 'sites' }, outputs: [{ table: 'out', key: ['id'] }] },
          sql: { '010_out.sql': 'CREATE TABLE out AS SELECT id, name, geom FROM sites WHERE false;' },
        },
        wrong_key: {
          product: {
            inputs: { sites: 'sites' },
            outputs: [{ table: 'out', key: ['id', 'nope'] }],
          },
          sql: { '010_out.sql': 'CREATE TABLE out AS SELECT id, geom FROM sites;' },
        },
      },
    });
  });
  afterAll(async () => p?.close());

  it('writes qa.html, qa.json and row lists beside the manifest of a first version, with figures that agree with the files', async () => {
    // Prepare
    await ingest('sites', csv(sites()));
    // Act
    const run = await build('site_list');
    // Assess
    expect(run.error).toBeNull();
    const m = await readManifest(p.store, 'site_list');
    const prefix = `products/site_list/${m.version}/`;
    expect(m.qa).toMatchObject({
      bucket: 'egress',
      html: `${prefix}qa.html`,
      json: `${prefix}qa.json`,
      previous: null,
    });
    expect(m.qa!.outputs.map((o) => [o.name, o.rows, o.added])).toEqual([
      ['keyed', 40, null],
      ['whole', 40, null],
      ['areas', 3, null],
    ]);
    expect(run.result?.qaReport).toBe(`${prefix}qa.html`);
    expect(m.timings.qaMs).toBeGreaterThan(0);
    for (const name of ['keyed', 'whole', 'areas'])
      expect(await p.store.exists('egress', `${prefix}qa-rows/${name}.tsv`)).toBe(true);
    const r = await report('site_list');
    expect(r).toMatchObject({ status: 'published', version: m.version, runId: run.id, previous: null });
    const keyed = r.outputs[0]!;
    expect(keyed.changes).toBeNull();
    expect(keyed.notes.join(' ')).toMatch(/first version/);
    // The figures, against the published CSV read independently.
    const rows = parseCsv(await readText(p.store, 'egress', m.outputs[0]!.key), { columns: true }) as Record<
      string,
      string
    >[];
    const col = (name: string) => keyed.current.columns.find((c) => c.name === name)!;
    expect(keyed.current.rows).toBe(rows.length);
    expect(col('name').nulls).toBe(rows.filter((x) => x.name === '').length);
    expect(col('name').distinct).toBe(new Set(rows.filter((x) => x.name !== '').map((x) => x.name)).size);
    expect(col('visits')).toMatchObject({ min: '2', max: '80', distinct: 40, distinctEstimated: false });
    expect(keyed.current.geometry).toMatchObject({
      srid: 4326,
      types: { Point: 40 },
      invalid: 0,
      empty: 0,
      vertices: 40,
      bbox: [-3, 51, 0.5, 53],
      area: 0,
    });
    // Polygons are measured on the ellipsoid: a 1 km buffer around each of the 40 points (35 km and more
    // apart, so none overlap), each a 32-gon of about pi km2.
    const areas = r.outputs[2]!.current.geometry!;
    expect(areas.types).toEqual({ MultiPolygon: 3 });
    expect(areas.area / 1e6).toBeGreaterThan(40 * Math.PI * 0.95);
    expect(areas.area / 1e6).toBeLessThan(40 * Math.PI * 1.01);
    expect(r.outputs[0]!.map).toMatchObject({ features: 40, drawn: 40, highlighted: 0, sampled: false });
    expect(r.outputs[1]!.map).toBeNull();
    expect(r.history).toHaveLength(1);
    const html = await readText(p.store, 'egress', m.qa!.html);
    expect(html).toMatch(/<h1>site_list<\/h1>/);
    expect(html).toContain('id="qa-map-keyed"');
    // Links to the network in the page's markup (the inlined script's strings aside): none.
    expect(html.replace(/<script[^>]*>.*?<\/script>/gs, '')).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('counts added, removed and changed rows by key against the previous version, and highlights them', async () => {
    // Prepare: site 7 goes, sites 41 and 42 come, five sites get more visits, one moves.
    const next = sites().filter((s) => s.id !== 7);
    for (const s of next) if (s.id % 9 === 0) s.visits += 100;
    next.find((s) => s.id === 20)!.lon += 0.25;
    next.push(
      { id: 41, name: 'new "quoted"', visits: 1, lon: 1, lat: 54 },
      { id: 42, name: 'tab\there', visits: 2, lon: 1.2, lat: 54 },
    );
    await ingest('sites', csv(next));
    const before = await readManifest(p.store, 'site_list');
    // Act
    const run = await build('site_list');
    // Assess
    expect(run.error).toBeNull();
    const m = await readManifest(p.store, 'site_list');
    const r = await report('site_list');
    expect(r.previous).toEqual({ version: before.version, builtAt: before.builtAt });
    const keyed = r.outputs[0]!;
    const changedIds = [9, 18, 20, 27, 36];
    expect(keyed.changes).toMatchObject({
      basis: 'key',
      added: 2,
      removed: 1,
      changed: changedIds.length,
      unchanged: 41 - 2 - changedIds.length,
      duplicateKeys: 0,
    });
    expect(keyed.changes!.samples.changed.map((s) => s.id).sort((a, b) => Number(a) - Number(b))).toEqual(
      changedIds,
    );
    expect(keyed.changes!.samples.added.map((s) => s.name).sort()).toEqual(['new "quoted"', 'tab\there']);
    expect(keyed.changes!.samples.removed).toEqual([7]);
    expect(keyed.changes!.samples.added[0]).not.toHaveProperty('geom');
    expect(keyed.map).toMatchObject({ features: 41, drawn: 41, highlighted: 7 });
    expect(keyed.previous?.rows).toBe(40);
    expect(keyed.current.columns.find((c) => c.name === 'visits')?.max).toBe('172');
    expect(m.qa!.outputs[0]).toEqual({
      name: 'keyed',
      rows: 41,
      previousRows: 40,
      added: 2,
      removed: 1,
      changed: 5,
    });
    // With no key, rows are compared whole: the changed ones count as removed and added, and are not told.
    expect(r.outputs[1]!.changes).toMatchObject({
      basis: 'row',
      added: 2,
      removed: 1,
      changed: null,
      unchanged: 39,
    });
    expect(r.outputs[1]!.notes.join(' ')).toMatch(/No key is declared/);
    // Cells by whole degree of latitude: 51 lost site 7, 52 holds the site that moved, 54 is new, 53 is as it was.
    expect(r.outputs[2]!.changes).toMatchObject({ added: 1, removed: 0, changed: 2, unchanged: 1 });
    expect(r.history.map((h) => h.rows.keyed)).toEqual([40, 41]);
    // The map data in the page marks the same rows: 2 added and 5 changed features.
    const html = await readText(p.store, 'egress', m.qa!.html);
    const data = JSON.parse(
      html.match(/<script type="application\/json" id="qa-map-keyed">(.*?)<\/script>/s)![1]!,
    ) as { features: [number, unknown, unknown[]][] };
    expect(data.features.filter((f) => f[0] === 2)).toHaveLength(2);
    expect(
      data.features
        .filter((f) => f[0] === 1)
        .map((f) => f[2][0])
        .sort((a, b) => Number(a) - Number(b)),
    ).toEqual(changedIds);
    // A value in the page is text, never markup.
    expect(html).toContain('new &quot;quoted&quot;');
  });

  it('finds no change between two builds of the same inputs', async () => {
    const run = await build('site_list');
    expect(run.error).toBeNull();
    const r = await report('site_list');
    for (const o of r.outputs) expect(o.changes).toMatchObject({ added: 0, removed: 0 });
    expect(r.outputs[0]!.changes).toMatchObject({ changed: 0, unchanged: 41 });
    expect(r.history).toHaveLength(3);
  });

  it('keeps the report of a build that failed its checks in the archive, and records where on the run', async () => {
    // Prepare: 50 rows break the row_count check (max 45).
    const many = Array.from({ length: 50 }, (_, i) => ({
      id: i + 1,
      name: `s${i}`,
      visits: i,
      lon: 0,
      lat: 50 + i / 100,
    }));
    await ingest('sites', csv(many));
    const latest = await readLatest(p.store, 'site_list');
    // Act
    const run = await build('site_list');
    // Assess
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ code: 'CHECK_FAILED' });
    const where = QaLocation.parse(run.error!.qaReport);
    expect(where).toEqual({
      bucket: 'archive',
      html: `runs/${run.id}/qa.html`,
      json: `runs/${run.id}/qa.json`,
    });
    const r = QaReport.parse(await readJson(p.store, 'archive', where.json));
    expect(r).toMatchObject({ status: 'checks-failed', version: null, runId: run.id });
    expect(r.previous?.version).toBe(latest?.version);
    expect(r.checks.find((c) => !c.passed)?.message).toBe('50 rows, expected <= 45');
    expect(r.outputs[0]!.changes).toMatchObject({ added: 9, removed: 0, changed: 41 });
    expect(r.outputs[0]!.rowList).toBeNull();
    expect(r.history.at(-1)).toMatchObject({ label: run.id, published: false });
    expect(await readText(p.store, 'archive', where.html)).toMatch(/Not published/);
    // `strata qa site_list --run <id>` finds it from the run; a published build's from its version.
    expect(await runReport(p, 'site_list', run.id)).toEqual(where);
    const published = (await p.runs.list({ target: 'site_list', status: 'succeeded', limit: 1 }))[0]!;
    expect(await runReport(p, 'site_list', published.id)).toEqual(
      publishedQaLocation('site_list', String(published.result?.version)),
    );
    await expect(runReport(p, 'wrong_key', run.id)).rejects.toThrow(/is not a build of "wrong_key"/);
    // Nothing of it is published.
    expect(await readLatest(p.store, 'site_list')).toEqual(latest);
    expect(
      (await p.store.list('egress', 'products/site_list/')).some((o) => o.key.includes(run.id.slice(-8))),
    ).toBe(false);
  });

  it('reports an empty output as empty, with nothing to draw and no note about it', async () => {
    const run = await build('empty');
    expect(run.error).toBeNull();
    const out = (await report('empty')).outputs[0]!;
    expect(out.current).toMatchObject({ rows: 0, geometry: { types: {}, bbox: null, vertices: 0 } });
    expect(out.current.columns.map((c) => [c.name, c.nulls, c.distinct, c.min])).toEqual([
      ['id', 0, 0, null],
      ['name', 0, 0, null],
      ['geom', 0, null, null],
    ]);
    expect(out.map).toBeNull();
    expect(out.notes).toEqual(['This is the first version: there is nothing to compare it with.']);
  });

  it('fails a build whose output key names a column the table does not have, naming the file and field', async () => {
    const run = await build('wrong_key');
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ code: 'BUILD_FAILED', step: 'qa' });
    expect(run.error?.message).toBe(
      'products/wrong_key/product.yaml: outputs[0].key: column "nope" is not in table "out" (its columns: id, geom)',
    );
    expect(await readLatest(p.store, 'wrong_key')).toBeUndefined();
  });

  it('reads a table beside the build session on a connection of its own, where the database has one', async () => {
    const pid = async () => (await p.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]!.pid;
    const [inside, beside] = await p.db.session(async () => [await pid(), await p.db.beside(pid)]);
    if (p.db.parallelCopies > 1) expect(beside).not.toBe(inside);
    else expect(beside).toBe(inside);
  });

  describe('on a table larger than the limits', () => {
    const schema = 'qa_large';
    beforeAll(async () => {
      await p.db.exec(`CREATE SCHEMA ${schema};
        CREATE TABLE ${schema}.big AS SELECT i AS id, (i % 7)::text AS kind,
          ST_SetSRID(ST_MakePoint(-3 + (i % 100) * 0.01, 51 + (i / 100) * 0.01), 4326) AS geom
        FROM generate_series(1, 3000) i;`);
    });

    it('estimates distinct counts from ANALYZE above the exact limit, and counts everything else exactly', async () => {
      const columns = await tableColumns(p.db, schema, 'big');
      const stats = await tableStats(p.db, schema, 'big', columns, {
        geometry: 'geom',
        exactDistinctMaxRows: 1000,
      });
      const byName = new Map(stats.columns.map((c) => [c.name, c]));
      expect(stats.rows).toBe(3000);
      expect(byName.get('kind')).toMatchObject({
        distinct: 7,
        distinctEstimated: true,
        min: '0',
        max: '6',
        nulls: 0,
      });
      // ANALYZE reads every row of a table this small, so its estimate is close.
      expect(byName.get('id')!.distinct).toBeGreaterThan(2900);
      expect(byName.get('id')!.distinctEstimated).toBe(true);
      expect(stats.geometry).toMatchObject({ types: { Point: 3000 }, invalid: 0 });
    });

    it('draws the highlighted rows and a repeatable sample of the rest beyond the feature limit', async () => {
      const columns = await tableColumns(p.db, schema, 'big');
      const f = fingerprint(columns, ['id']);
      const keys = await p.db.query<{ k: string }>(
        `SELECT ${f.key}::text AS k FROM ${schema}.big t WHERE id IN (5, 6, 7) ORDER BY 1`,
      );
      const input = {
        table: `${schema}.big`,
        columns,
        key: ['id'],
        fingerprint: f,
        marks: keys.map((k, i) => ({
          key: k.k,
          status: i === 0 ? ('added' as const) : ('changed' as const),
        })),
        rows: 3000,
        samples: 10,
        geometry: { column: 'geom', srid: 4326, vertices: 3000, features: 3000 },
      };
      const limits = { features: 500, simplifyAboveVertices: 1e9, simplifyFraction: 0.01, properties: 2 };
      const a = await drawRows(p.db, input, limits);
      const b = await drawRows(p.db, input, limits);
      expect(a.map?.info).toMatchObject({ features: 3000, highlighted: 3, sampled: true, simplified: null });
      expect(a.map!.info.drawn).toBeLessThanOrEqual(500);
      expect(a.map!.info.drawn).toBeGreaterThan(300);
      expect(a.map!.json).toBe(b.map!.json);
      const features = (JSON.parse(a.map!.json) as { features: [number, unknown, unknown[]][] }).features;
      expect(features.slice(0, 3).map((x) => [x[0], x[2][0]])).toEqual(
        expect.arrayContaining([
          [expect.any(Number), 5],
          [expect.any(Number), 6],
          [expect.any(Number), 7],
        ]),
      );
      expect(new Set(features.map((x) => x[2][0])).size).toBe(features.length);
      expect(a.samples.added).toHaveLength(1);
      expect(a.samples.changed).toHaveLength(2);
    });
  });
});
