import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliHome, cliEngines, LONG } from '../helpers/cli.ts';

/** A catalog as a user writes it: one good dataset, one with a typo, a broken product, and products over both. */
async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

const CATALOG = {
  'datasets/places.yaml': `name: places
format: csv
columns:
  - { name: id, type: integer, required: true }
  - { name: name, type: text }
geometry: { kind: none }
`,
  'datasets/notes.yaml': `name: notes
format: csv
columns:
  - { name: id, type: integer, requird: true }
geometry: { kind: none }
`,
  'products/summary/product.yaml': `name: summary
inputs:
  places: places
outputs:
  - { table: counted, formats: [csv, geojsn] }
`,
  'products/summary/010_counted.sql': 'CREATE TABLE counted AS SELECT count(*)::int AS n FROM places;\n',
  'products/noted/product.yaml': `name: noted
inputs:
  notes: notes
outputs:
  - { table: listed, formats: [csv] }
`,
  'products/noted/010_listed.sql': 'CREATE TABLE listed AS SELECT * FROM notes;\n',
  'products/mangled/product.yaml': 'name: mangled\ninputs: [\n  - places\n',
};

describe.each(cliEngines())('catalog problems through the command line, on $name', (engine) => {
  const homes: CliHome[] = [];
  afterAll(async () => {
    for (const h of homes) await h.close();
  });

  it(
    'lists every problem at its line and column with a suggestion, refuses only what they touch, and names a renamed header',
    LONG,
    async () => {
      // Prepare: the catalog above, and a good file for the dataset no broken part needs.
      const h = await engine.setup();
      homes.push(h);
      const catalog = join(h.home, 'catalog');
      await writeFiles(catalog, CATALOG);
      await writeFile(join(h.home, 'places.csv'), 'id,name\n1,Lyon\n2,Oslo\n');
      await writeFile(join(h.home, 'notes.csv'), 'id\n1\n');
      const strata = (...args: string[]) => h.run(['--catalog', catalog, ...args]);

      // Act: validate, for people and for scripts.
      const validate = await strata('validate', '--no-sql');
      const validateJson = await strata('--json', 'validate', '--no-sql');

      // Assess: every problem, each at its place, with what was likely meant; exit code 2.
      expect(validate.code).toBe(2);
      expect(validate.stdout.trimEnd().split('\n')).toEqual([
        'datasets/notes.yaml:4:32: columns[0].requird: unknown key "requird"; did you mean "required"?',
        'products/mangled/product.yaml:3:3: Block collections are not allowed within flow collections',
        'products/mangled/product.yaml:4:1: Flow sequence in block collection must be sufficiently indented and end with a ]',
        'products/summary/product.yaml:5:38: outputs[0].formats[1]: Invalid option: expected one of "csv"|"geojson"|"gpkg"|"flatgeobuf"|"shapefile"|"geoparquet"; did you mean "geojson"?',
      ]);
      expect(validate.stdout).not.toMatch(/column \d+:\s*$/m);
      expect(validate.stderr).toMatch(/4 problem\(s\) in /);
      expect(validateJson.code).toBe(2);
      const report = JSON.parse(validateJson.stdout) as { ok: boolean; issues: Record<string, unknown>[] };
      expect(report.ok).toBe(false);
      expect(report.issues[0]).toMatchObject({
        file: 'datasets/notes.yaml',
        line: 4,
        column: 32,
        path: 'columns[0].requird',
        subject: { kind: 'dataset', name: 'notes' },
      });

      // Act: ingest the dataset no broken part needs, then what the problems touch.
      const ingestPlaces = await strata('ingest', 'places', join(h.home, 'places.csv'));
      const ingestNotes = await strata('ingest', 'notes', join(h.home, 'notes.csv'));
      const buildSummary = await strata('build', 'summary');
      const buildNoted = await strata('build', 'noted');
      const typo = await strata('ingest', 'place', join(h.home, 'places.csv'));
      await writeFile(join(h.home, 'renamed.csv'), 'id,title\n3,Rome\n');
      const renamed = await strata('ingest', 'places', join(h.home, 'renamed.csv'));

      // Assess: the good dataset loads, with a word about the problems elsewhere.
      expect(ingestPlaces.stderr).toMatch(/dataset places: new version \S+ is current \(2 rows/);
      expect(ingestPlaces.stderr).toMatch(/^warning: 4 catalog problem\(s\) in datasets\/notes\.yaml, /m);
      expect(ingestPlaces.code).toBe(0);
      // What the problems touch is refused, with them; exit code 2.
      expect(ingestNotes.stderr).toContain(
        'error: dataset "notes" has problems in the catalog: datasets/notes.yaml:4:32: columns[0].requird: unknown key "requird"; did you mean "required"?',
      );
      expect(ingestNotes.code).toBe(2);
      expect(buildSummary.stderr).toMatch(
        /error: product "summary" has problems in the catalog: products\/summary\/product\.yaml:5:38: /,
      );
      expect(buildSummary.code).toBe(2);
      expect(buildNoted.stderr).toMatch(
        /error: product "noted" reads dataset "notes", which has problems in the catalog: datasets\/notes\.yaml:4:32: /,
      );
      expect(buildNoted.code).toBe(2);
      // A name that is not there at all is not found, with the one most likely meant.
      expect(typo.stderr).toMatch(
        /error: dataset "place" is not in the catalog \(.*\); did you mean "places"\?/,
      );
      expect(typo.code).toBe(4);
      // A renamed header names the column the file has and the one the catalog expects.
      expect(renamed.stderr).toMatch(
        /error: ingest failed \(run \S+\): datasets\/places\/\S+\/renamed\.csv, line 1, column "title": column "title" is not declared in the catalog \(datasets\/places\.yaml\); missing column "name" \("name" renamed to "title"\?\); the file is quarantined as places\/\S+, not a version/,
      );
      expect(renamed.code).toBe(1);

      // serve's --workers is a count, refused before anything opens: NaN once started no worker at all.
      for (const workers of ['0', 'two', '1.5']) {
        const refused = await strata('serve', '--workers', workers);
        expect(refused.stderr).toContain(`--workers must be a whole number from 1 to 64, got: ${workers}`);
        expect(refused.code).toBe(1);
      }
    },
  );
});
