import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCatalog, tablesCreatedBy } from '../../runtime/catalog/loader.ts';
import { formatIssue } from '../../runtime/errors.ts';

const SHIPPED = fileURLToPath(new URL('../../catalog', import.meta.url));

const places = `
name: places
format: csv
columns:
  - { name: id, type: integer, required: true }
  - { name: lon, type: double }
  - { name: lat, type: double }
geometry: { kind: lonlat, lon: lon, lat: lat }
`;

async function catalogWith(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-catalog-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

async function problems(files: Record<string, string>): Promise<string[]> {
  const { issues } = await loadCatalog(await catalogWith(files));
  return issues.map(formatIssue);
}

describe('catalog', () => {
  it('loads the shipped demo catalog with no problems', async () => {
    const { catalog, issues } = await loadCatalog(SHIPPED);
    expect(issues).toEqual([]);
    expect([...catalog.datasets.keys()].sort()).toEqual(['us_counties', 'world_places']);
    const product = catalog.products.get('county_places')!;
    expect(product.steps.map((s) => s.file)).toEqual(['010_us_places.sql', '020_county_summary.sql']);
    expect(product.product.inputs.counties).toEqual({ dataset: 'us_counties', version: 'latest' });
  });

  it('reports a missing catalog directory', async () => {
    const { issues } = await loadCatalog('/nonexistent/catalog');
    expect(issues.map(formatIssue)).toEqual(['/nonexistent/catalog: catalog directory not found']);
  });

  it('names the file, the path in the document and the problem, for every problem at once', async () => {
    const out = await problems({
      'datasets/roads.yaml': `
name: roads
format: xlsx
colums: []
columns:
  - { name: Road Name, type: text }
  - { name: width, type: float, min: 5, max: 2 }
geometry: { kind: lonlat, lon: x, lat: y }
`,
    });
    expect(out).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^datasets\/roads\.yaml: format: Invalid option: expected one of "csv"\|"geojson"/,
        ),
        'datasets/roads.yaml: : Unrecognized key: "colums"'.replace(': : ', ': '),
        'datasets/roads.yaml: columns[0].name: must start with a lowercase letter and use only a-z, 0-9 and _',
        expect.stringMatching(/^datasets\/roads\.yaml: columns\[1\]\.type: Invalid option/),
      ]),
    );
  });

  it('checks references inside a dataset', async () => {
    const out = await problems({
      'datasets/pts.yaml': `
name: pts
format: csv
columns:
  - { name: id, type: integer, min: 5, max: 2 }
  - { name: lon, type: text }
  - { name: geom }
geometry: { kind: lonlat, lon: lon, lat: latitude }
`,
    });
    expect(out).toEqual(
      expect.arrayContaining([
        'datasets/pts.yaml: columns[0].min: `min` must not be greater than `max`',
        'datasets/pts.yaml: columns[2].name: "geom" is reserved for the geometry',
        'datasets/pts.yaml: geometry.lon: column "lon" must be of type integer or bigint or numeric or double, got text',
        'datasets/pts.yaml: geometry.lat: "latitude" is not a declared column',
      ]),
    );
  });

  it('requires a schedule for an http source, and a name that matches the file', async () => {
    const out = await problems({
      'datasets/feed.yaml': `
name: feed
source: { kind: http, url: "https://example.org/feed.csv" }
format: csv
columns: [{ name: id }]
geometry: { kind: none }
`,
      'datasets/other.yaml': places,
    });
    expect(out).toEqual([
      'datasets/feed.yaml: schedule: an http source needs a schedule to be fetched on',
      'datasets/other.yaml: name: must match the file name ("other"), got "places"',
    ]);
  });

  it('reports YAML syntax errors with their line', async () => {
    const out = await problems({ 'datasets/bad.yaml': 'name: bad\ncolumns: [\n  - x\n' });
    expect(out[0]).toMatch(/^datasets\/bad\.yaml: line \d+: /);
  });

  it('checks products: unknown dataset, missing SQL, outputs and checks on tables no step creates, bad checks', async () => {
    const out = await problems({
      'datasets/places.yaml': places,
      'products/summary/product.yaml': `
name: summary
inputs:
  p: places
  q: { dataset: nowhere }
steps: [010_a.sql, 020_missing.sql]
checks:
  - { type: row_count, table: totals, min: 10, max: 1 }
  - { type: unique, table: ghost, columns: [id] }
  - { type: magic, table: totals }
outputs:
  - { table: totals, formats: [csv] }
  - { table: phantom }
`,
      'products/summary/010_a.sql': 'CREATE TABLE totals AS SELECT count(*) AS n FROM p;',
    });
    expect(out).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^products\/summary\/product\.yaml: checks\[2\]\.type: Invalid discriminator value\. Expected 'row_count' \| 'not_null'/,
        ),
      ]),
    );
    const out2 = await problems({
      'datasets/places.yaml': places,
      'products/summary/product.yaml': `
name: summary
inputs:
  p: places
  q: { dataset: nowhere }
steps: [010_a.sql, 020_missing.sql]
checks:
  - { type: row_count, table: totals, min: 10, max: 1 }
  - { type: unique, table: ghost, columns: [id] }
outputs:
  - { table: totals, formats: [csv] }
  - { table: phantom }
`,
      'products/summary/010_a.sql': 'CREATE TABLE totals AS SELECT count(*) AS n FROM p;',
    });
    expect(out2).toEqual([
      'products/summary/product.yaml: checks[0].min: `min` must not be greater than `max`',
    ]);
    const out3 = await problems({
      'datasets/places.yaml': places,
      'products/summary/product.yaml': `
name: summary
inputs:
  p: places
  q: { dataset: nowhere }
steps: [010_a.sql, 020_missing.sql]
checks:
  - { type: unique, table: ghost, columns: [id] }
outputs:
  - { table: totals, formats: [csv] }
  - { table: phantom }
`,
      'products/summary/010_a.sql': 'CREATE TABLE totals AS SELECT count(*) AS n FROM p;',
    });
    expect(out3).toEqual([
      'products/summary/product.yaml: inputs.q.dataset: unknown dataset "nowhere"',
      'products/summary/product.yaml: steps[1]: SQL file "020_missing.sql" not found',
      'products/summary/product.yaml: outputs[1].table: no step creates table "phantom"',
      'products/summary/product.yaml: checks[0].table: no step creates table "ghost"',
    ]);
  });

  it("reads a dataset's contract, with its defaults, and names what contradicts itself", async () => {
    const { catalog } = await loadCatalog(await catalogWith({ 'datasets/places.yaml': places }));
    expect(catalog.datasets.get('places')).toMatchObject({ allowEmpty: false, invalidGeometry: 'refuse' });
    const { catalog: guarded } = await loadCatalog(
      await catalogWith({
        'datasets/places.yaml': `${places}minRows: 10\nmaxRows: 500\ninvalidGeometry: repair\nbbox: [-10, 49, 2, 61]\nchange: { maxFewerRows: "20%", columnRemoved: refuse }\n`,
      }),
    );
    expect(guarded.datasets.get('places')).toMatchObject({
      minRows: 10,
      maxRows: 500,
      invalidGeometry: 'repair',
      bbox: [-10, 49, 2, 61],
      change: { maxFewerRows: 20, columnRemoved: 'refuse' },
    });

    const out = await problems({
      'datasets/places.yaml': `${places}allowEmpty: true\nminRows: 3\nmaxRows: 2\ninvalidGeometry: mend\nbbox: [2, 49, -10, 61]\nchange: { maxFewerRows: 20 }\n`,
    });
    expect(out).toEqual([
      'datasets/places.yaml: invalidGeometry: Invalid option: expected one of "refuse"|"repair"|"keep"',
      'datasets/places.yaml: change.maxFewerRows: Invalid input: expected string, received number',
    ]);
    const out2 = await problems({
      'datasets/places.yaml': `${places}allowEmpty: true\nminRows: 3\nmaxRows: 2\nbbox: [2, 49, -10, 61]\n`,
    });
    expect(out2).toEqual([
      'datasets/places.yaml: allowEmpty: `allowEmpty: true` contradicts `minRows: 3`',
      'datasets/places.yaml: maxRows: `maxRows` must not be less than `minRows` (3)',
      'datasets/places.yaml: bbox: bbox must be [minx, miny, maxx, maxy]',
    ]);
  });

  it('reads the tables a step creates', () => {
    const sql = `CREATE TABLE a AS SELECT 1; create unlogged table if not exists "B_2" (x int);
      CREATE OR REPLACE VIEW myschema.v AS SELECT 1; CREATE MATERIALIZED VIEW mv AS SELECT 1;`;
    expect([...tablesCreatedBy(sql)].sort()).toEqual(['a', 'b_2', 'mv', 'v']);
  });
});
