// The guard rails on the database side: product SQL runs as a role that reads `datasets` and writes only
// its own build schema, so a catalog step (or check) cannot drop a dataset table or touch `strata.*`, even
// by changing role; and the platform never runs what a product defined as its own user.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { listProductVersions } from '../../runtime/publish/versions.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { notesCatalog, writeNotes } from '../helpers/notes.ts';

/** A product whose one step does `sql` (and, to pass validation, would then make its output). */
const product = (sql: string, extra: Record<string, unknown> = {}) => ({
  product: { inputs: { notes: 'notes' }, outputs: [{ table: 'out', formats: ['csv'] }], ...extra },
  sql: { '010_step.sql': sql.includes(' out ') ? sql : `${sql}\nCREATE TABLE out AS SELECT 1 AS n;` },
});

describe.each(engines())('faults: what product SQL may do, on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  let table: string;
  const harmless = async () => {
    const [rows] = await p.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM datasets."${table}"`);
    const [runs] = await p.db.query<{ n: number }>('SELECT count(*)::int AS n FROM strata.runs');
    return { rows: rows!.n, runs: runs!.n };
  };
  const build = async (name: string) => {
    const run = await submit(p, { kind: 'build', product: name }, { kind: 'cli' });
    return workUntil(p, catalog, run.id);
  };

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await notesCatalog(join(p.dir, 'catalog'), {
      products: {
        drops_input: product('DROP TABLE datasets."@TABLE@";'),
        resets_role: product('RESET ROLE;\nDROP TABLE datasets."@TABLE@";'),
        sets_role: product("SELECT set_config('role', 'postgres', false);"),
        touches_runs: product('DELETE FROM strata.runs;'),
        writes_input: product("INSERT INTO notes (id, note) VALUES (0, 'x');"),
        writes_public: product('CREATE TABLE public.planted AS SELECT 1 AS x;'),
        view_output: product(
          "CREATE FUNCTION boom() RETURNS int LANGUAGE sql AS 'SELECT 1';\nCREATE VIEW out AS SELECT boom() AS n;",
        ),
        check_reads_runs: product('CREATE TABLE out AS SELECT count(*)::int AS n FROM notes;', {
          checks: [{ type: 'sql', table: 'out', sql: 'SELECT id FROM strata.runs' }],
        }),
        honest: product(
          'CREATE TABLE out AS SELECT count(*)::int AS n FROM notes;\nCREATE INDEX ON out (n);\nANALYZE out;',
        ),
      },
    });
    const path = await writeNotes(p.dir, 'n.csv', 3);
    const ingested = await runIngest(p, catalog, {
      dataset: 'notes',
      path,
      filename: 'n.csv',
      origin: { kind: 'file', from: path },
    });
    table = String(ingested.result.table);
    // The steps name the real table, as an attacker who read `strata versions` would.
    for (const entry of catalog.products.values())
      for (const step of entry.steps) (step as { sql: string }).sql = step.sql.replaceAll('@TABLE@', table);
  });
  afterAll(async () => p?.close());

  it('a step that drops a dataset table, or resets its role first, fails with a clear error and harms nothing', async () => {
    const before = await harmless();
    const cases = {
      drops_input:
        /step 010_step\.sql failed: must be owner of table .*; product SQL runs as role strata_product, which reads datasets and writes only its own build schema/,
      resets_role: /step 010_step\.sql failed: cannot set parameter "role" within security-definer function/,
      sets_role: /failed: cannot set parameter "role" within security-definer function/,
      touches_runs: /failed: permission denied for schema strata/,
      writes_input: /failed: permission denied for (view|table) notes/,
      writes_public: /failed: permission denied for schema public/,
    };
    for (const [name, message] of Object.entries(cases)) {
      const run = await build(name);
      expect(run.status, name).toBe('failed');
      expect(run.error, name).toMatchObject({ code: 'BUILD_FAILED', step: '010_step.sql' });
      expect(String(run.error?.message), name).toMatch(message);
      expect(await listProductVersions(p.store, name), name).toEqual([]);
    }
    const after = await harmless();
    expect(after.rows).toBe(before.rows);
    // The runs above were added; none was removed.
    expect(after.runs).toBe(before.runs + Object.keys(cases).length);
    const [planted] = await p.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'planted'",
    );
    expect(planted!.n).toBe(0);
  });

  it('an output that is a view over a function the product wrote is refused before the platform reads it', async () => {
    const run = await build('view_output');
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({
      code: 'BUILD_FAILED',
      message: 'output "out" must be a table the product\'s SQL created, not a view or other relation',
    });
    expect(await listProductVersions(p.store, 'view_output')).toEqual([]);
  });

  it("a check's SQL runs as the product role too", async () => {
    const run = await build('check_reads_runs');
    expect(run.status).toBe('failed');
    expect(String(run.error?.message)).toMatch(/permission denied for schema strata/);
  });

  it('honest product SQL builds as before (tables, indexes, ANALYZE)', async () => {
    const run = await build('honest');
    expect(run).toMatchObject({
      status: 'succeeded',
      result: { outputs: [expect.objectContaining({ rows: 1 })] },
    });
  });
});
