import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCatalog, tablesCreatedBy, unavailable } from '../../runtime/catalog-files/loader.ts';
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
          /^datasets\/roads\.yaml:3:9: format: Invalid option: expected one of "csv"\|"geojson"/,
        ),
        'datasets/roads.yaml:4:1: colums: unknown key "colums"; did you mean "columns"?',
        'datasets/roads.yaml:6:13: columns[0].name: must start with a lowercase letter and use only a-z, 0-9 and _',
        expect.stringMatching(/^datasets\/roads\.yaml:7:26: columns\[1\]\.type: Invalid option/),
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
        'datasets/pts.yaml:5:37: columns[0].min: `min` must not be greater than `max`',
        'datasets/pts.yaml:7:13: columns[2].name: "geom" is reserved for the geometry',
        'datasets/pts.yaml:8:32: geometry.lon: column "lon" must be of type integer or bigint or numeric or double, got text',
        'datasets/pts.yaml:8:42: geometry.lat: "latitude" is not a declared column',
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
      // A missing key has no place of its own: the problem points at the mapping it belongs in.
      'datasets/feed.yaml:2:1: schedule: an http source needs a schedule to be fetched on',
      'datasets/other.yaml:2:7: name: must match the file name ("other"), got "places"',
    ]);
  });

  it('reports YAML syntax errors with their line and column, and no excerpt left dangling', async () => {
    const out = await problems({ 'datasets/bad.yaml': 'name: bad\ncolumns: [\n  - x\n' });
    expect(out).toEqual([
      'datasets/bad.yaml:3:3: Block collections are not allowed within flow collections',
      'datasets/bad.yaml:4:1: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
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
          /^products\/summary\/product\.yaml:10:13: checks\[2\]\.type: Invalid discriminator value\. Expected 'row_count' \| 'not_null'/,
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
      'products/summary/product.yaml:8:44: checks[0].min: `min` must not be greater than `max`',
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
      'products/summary/product.yaml:5:17: inputs.q.dataset: unknown dataset "nowhere"',
      'products/summary/product.yaml:6:20: steps[1]: SQL file "020_missing.sql" not found',
      'products/summary/product.yaml:11:14: outputs[1].table: no step creates table "phantom"',
      'products/summary/product.yaml:8:28: checks[0].table: no step creates table "ghost"',
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
      'datasets/places.yaml:12:18: invalidGeometry: Invalid option: expected one of "refuse"|"repair"|"keep"',
      'datasets/places.yaml:14:25: change.maxFewerRows: Invalid input: expected string, received number',
    ]);
    const out2 = await problems({
      'datasets/places.yaml': `${places}allowEmpty: true\nminRows: 3\nmaxRows: 2\nbbox: [2, 49, -10, 61]\n`,
    });
    expect(out2).toEqual([
      'datasets/places.yaml:9:13: allowEmpty: `allowEmpty: true` contradicts `minRows: 3`',
      'datasets/places.yaml:11:10: maxRows: `maxRows` must not be less than `minRows` (3)',
      'datasets/places.yaml:12:7: bbox: bbox must be [minx, miny, maxx, maxy]',
    ]);
  });

  it('suggests what an unknown key or value was likely meant to be, at its line and column', async () => {
    const out = await problems({
      'datasets/stops.yaml': `name: stops
format: geojsn
columns:
  - { name: id, type: integr, requird: true }
geometry: { kind: geojsom, typ: Point }
`,
      'products/lines/product.yaml': `name: lines
inputs:
  s: { dataset: stop, versoin: latest }
checks:
  - { type: row_cont, table: out }
outputs:
  - { table: out, formats: [csv, geojsn] }
`,
      'products/lines/010_out.sql': 'CREATE TABLE out AS SELECT 1 AS n;',
    });
    expect(out).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^datasets\/stops\.yaml:2:9: format: Invalid option: .*; did you mean "geojson"\?$/,
        ),
        expect.stringMatching(
          /^datasets\/stops\.yaml:4:23: columns\[0\]\.type: .*; did you mean "integer"\?$/,
        ),
        'datasets/stops.yaml:4:31: columns[0].requird: unknown key "requird"; did you mean "required"?',
        expect.stringMatching(/^datasets\/stops\.yaml:5:19: geometry\.kind: .*; did you mean "geojson"\?$/),
        'products/lines/product.yaml:3:23: inputs.s.versoin: unknown key "versoin"; did you mean "version"?',
        expect.stringMatching(
          /^products\/lines\/product\.yaml:5:13: checks\[0\]\.type: .*; did you mean "row_count"\?$/,
        ),
        expect.stringMatching(
          /^products\/lines\/product\.yaml:7:34: outputs\[0\]\.formats\[1\]: .*; did you mean "geojson"\?$/,
        ),
      ]),
    );
    // Once the dataset is mended, an unknown key of the chosen geometry kind is named with that kind's keys.
    const fixed = await problems({
      'datasets/stops.yaml':
        'name: stops\nformat: geojson\ncolumns: [{ name: id }]\ngeometry: { kind: geojson, typ: Point }\n',
      'products/lines/product.yaml': 'name: lines\ninputs: { s: stop }\noutputs: [{ table: out }]\n',
      'products/lines/010_out.sql': 'CREATE TABLE out AS SELECT 1 AS n;',
    });
    expect(fixed).toEqual([
      'datasets/stops.yaml:4:28: geometry.typ: unknown key "typ"; did you mean "type"?',
      'products/lines/product.yaml:2:14: inputs.s.dataset: unknown dataset "stop"; did you mean "stops"?',
    ]);
  });

  it('keeps what has no problem usable, and says why the rest is not', async () => {
    const { catalog, issues } = await loadCatalog(
      await catalogWith({
        'datasets/places.yaml': places,
        'datasets/roads.yaml':
          'name: roads\nformat: csv\ncolumns: [{ name: id, typo: 1 }]\ngeometry: { kind: none }\n',
        'products/good/product.yaml': 'name: good\ninputs: { p: places }\noutputs: [{ table: out }]\n',
        'products/good/010_out.sql': 'CREATE TABLE out AS SELECT * FROM p;',
        'products/broken/product.yaml':
          'name: broken\ninputs: { p: places }\noutputs: [{ table: out, formats: [xls] }]\n',
        'products/broken/010_out.sql': 'CREATE TABLE out AS SELECT * FROM p;',
        'products/on_roads/product.yaml': 'name: on_roads\ninputs: { r: roads }\noutputs: [{ table: out }]\n',
        'products/on_roads/010_out.sql': 'CREATE TABLE out AS SELECT * FROM r;',
      }),
    );
    expect(issues.map((i) => `${i.subject?.kind} ${i.subject?.name}`)).toEqual([
      'dataset roads',
      'product broken',
    ]);
    expect([...catalog.datasets.keys()]).toEqual(['places']);
    expect([...catalog.products.keys()]).toEqual(['good']);
    expect(unavailable(catalog, 'dataset', 'roads').message).toMatch(
      /^dataset "roads" has problems in the catalog: datasets\/roads\.yaml:3:23: columns\[0\]\.typo: unknown key "typo"; did you mean "type"\?$/,
    );
    expect(unavailable(catalog, 'product', 'broken').message).toMatch(
      /^product "broken" has problems in the catalog: products\/broken\/product\.yaml:3:35: outputs\[0\]\.formats\[0\]: Invalid option/,
    );
    expect(unavailable(catalog, 'product', 'on_roads').message).toMatch(
      /^product "on_roads" reads dataset "roads", which has problems in the catalog: datasets\/roads\.yaml:3:23: /,
    );
    expect(unavailable(catalog, 'dataset', 'place').message).toMatch(
      /^dataset "place" is not in the catalog \(.*\); did you mean "places"\?$/,
    );
    expect(unavailable(catalog, 'product', 'nothing_like_it').message).toMatch(/; known: good$/);
  });

  it('reads the tables a step creates', () => {
    const sql = `CREATE TABLE a AS SELECT 1; create unlogged table if not exists "B_2" (x int);
      CREATE OR REPLACE VIEW myschema.v AS SELECT 1; CREATE MATERIALIZED VIEW mv AS SELECT 1;`;
    expect([...tablesCreatedBy(sql)].sort()).toEqual(['a', 'b_2', 'mv', 'v']);
  });
});
