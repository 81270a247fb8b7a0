import type { ProductEntry } from '../catalog/schema.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import { isDatabaseUnavailable } from '../db/transient.ts';
import { BuildError, CheckFailedError, type CheckResult, StrataError } from '../errors.ts';
import { announcePublished } from '../federation/announce.ts';
import { latestKey, productVersionPrefix, manifestKey as versionManifestKey } from '../layout/buckets.ts';
import { DATASETS_SCHEMA } from '../load/table.ts';
import type { Platform } from '../platform/platform.ts';
import type { Database } from '../ports/database.ts';
import { exportOutput, type PublishedFile, planExports } from '../publish/export.ts';
import type { LatestPointer, Manifest } from '../publish/manifest.ts';
import { publishQaReport, reportFailedChecks } from '../qa/report.ts';
import type { JobHooks } from '../runs/steps.ts';
import { timestamp } from '../util/ids.ts';
import { ident, literal, qualified } from '../util/sql.ts';
import { sqlPosition } from '../util/sql-position.ts';
import { PLATFORM_VERSION } from '../version.ts';
import { productQueryable, runCheck } from './checks.ts';
import { publishedLock, sameInputs } from './freshness.ts';
import { type LockedInput, planBuild, requireProduct } from './plan.ts';

/** `build_<product>_<run>`: at most 63 bytes, and says whose it is. */
export function buildSchemaName(product: string, runId: string): string {
  return `build_${product}_${runId.replace(/[TZ]/g, '').replace(/-/g, '_').toLowerCase()}`.slice(0, 63);
}

/** Where in a step's file a database error points. */
const lineAt = (sql: string, position: unknown): number | undefined => sqlPosition(sql, position)?.line;

/**
 * Runs each SQL file of the product as the product role (see sql/004_runs.sql): it reads `datasets` and
 * writes only in the build schema, whatever the file says, and cannot change role.
 */
async function runSteps(
  db: Database,
  entry: ProductEntry,
  hooks: JobHooks,
): Promise<{ file: string; ms: number }[]> {
  const timings: { file: string; ms: number }[] = [];
  for (const step of entry.steps) {
    hooks.onStep?.({ name: step.file, status: 'start' });
    const t = Date.now();
    try {
      await db.query('SELECT strata.run_product_sql($1)', [step.sql]);
    } catch (e) {
      if (isDatabaseUnavailable(e)) throw e;
      // The script runs inside a function: PostgreSQL points into it with the internal position.
      const err = e as { message?: string; position?: unknown; internalPosition?: unknown };
      const position = Number(err.internalPosition) || undefined;
      const line = lineAt(step.sql, position);
      const denied = /permission denied|must be owner|cannot set parameter/.test(err.message ?? '');
      throw new BuildError(
        `step ${step.file}${line ? ` (line ${line})` : ''} failed: ${err.message ?? String(e)}${
          denied
            ? `; product SQL runs as role ${PRODUCT_ROLE}, which reads datasets and writes only its own build schema`
            : ''
        }`,
        {
          step: step.file,
          file: `products/${entry.product.name}/${step.file}`,
          line,
          position,
          dbMessage: err.message,
        },
      );
    }
    const ms = Date.now() - t;
    timings.push({ file: step.file, ms });
    hooks.onStep?.({ name: step.file, status: 'done', ms });
  }
  return timings;
}

/** Gathers statistics for input tables that have none yet, so the product's SQL is planned on facts. */
async function analyzeInputs(db: Database, inputs: readonly LockedInput[]): Promise<void> {
  for (const input of inputs) {
    const [row] = await db.query<{ has: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM pg_stats WHERE schemaname = $1 AND tablename = $2) AS has',
      [DATASETS_SCHEMA, input.table],
    );
    if (!row?.has) await db.exec(`ANALYZE ${qualified(DATASETS_SCHEMA, input.table)}`);
  }
}

export interface BuildOutcome {
  readonly result: Record<string, unknown>;
  readonly lineage: Record<string, unknown>;
}

export interface BuildOptions {
  /**
   * Publish nothing when the newest published version read exactly the inputs this build would: for builds
   * queued automatically because an input moved, where the build ahead of them may have read it already.
   */
  readonly skipIfPublished?: boolean;
}

/** The role product SQL runs as (sql/004_runs.sql). */
export const PRODUCT_ROLE = 'strata_product';

/** Hands the build schema to the product role: it may create there and read its inputs' views. */
async function grantBuildSchema(db: Database, schema: string, inputs: readonly LockedInput[]): Promise<void> {
  await db.exec(`GRANT USAGE, CREATE ON SCHEMA ${ident(schema)} TO ${PRODUCT_ROLE}`);
  await db.exec(`GRANT SELECT ON ALL TABLES IN SCHEMA ${ident(schema)} TO ${PRODUCT_ROLE}`);
  // A table moved into `datasets` from the loading schema missed the schema's default privileges.
  for (const input of inputs)
    await db.exec(`GRANT SELECT ON ${qualified(DATASETS_SCHEMA, input.table)} TO ${PRODUCT_ROLE}`);
}

/**
 * What the export reads must be plain data the product made: a table (not a view, whose functions would run
 * as the platform), with no row security policy, and no column of a type the product defined (whose casts
 * it could have written). Checked before anything is read as the platform's own user.
 */
async function checkOutputsArePlainTables(
  db: Database,
  schema: string,
  tables: readonly string[],
): Promise<void> {
  for (const table of new Set(tables)) {
    const [rel] = await db.query<{ relkind: string; rls: boolean; own_types: number }>(
      `SELECT c.relkind::text AS relkind, c.relrowsecurity AS rls,
         (SELECT count(*)::int FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND t.typnamespace = n.oid) AS own_types
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [schema, table],
    );
    if (!rel) continue; // the export says which output no step created
    if (!['r', 'p', 'm'].includes(rel.relkind))
      throw new BuildError(
        `output "${table}" must be a table the product's SQL created, not a view or other relation`,
        {
          step: 'export',
        },
      );
    if (rel.rls)
      throw new BuildError(`output "${table}" has row level security; outputs are published whole`, {
        step: 'export',
      });
    if (Number(rel.own_types) > 0)
      throw new BuildError(
        `output "${table}" has a column of a type defined by the product's SQL; use built-in types`,
        {
          step: 'export',
        },
      );
  }
}

/**
 * Builds a product in its own schema from locked input versions, checks it, and publishes it. Nothing is
 * published unless every step and every error-severity check passed; `latest.json` is written last.
 * Builds of one product are serialised by an advisory lock: a second one waits for the first to end.
 */
export async function buildProduct(
  p: Platform,
  catalog: Catalog,
  productName: string,
  runId: string,
  hooks: JobHooks = {},
  options: BuildOptions = {},
): Promise<BuildOutcome> {
  const entry = requireProduct(catalog, productName);
  const product = entry.product;
  const db = p.db;
  const started = Date.now();
  return db.session(async () => {
    // Builds of one product queue behind each other: the second waits for the first to end, then plans
    // against what the first published.
    const lockKey = `strata.build.${product.name}`;
    const [lock] = await db.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
      lockKey,
    ]);
    if (!lock?.ok) {
      hooks.onStep?.({
        name: 'wait',
        status: 'start',
        detail: `another build of ${product.name} is running`,
      });
      const t = Date.now();
      await db.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
      hooks.onStep?.({ name: 'wait', status: 'done', ms: Date.now() - t, detail: 'the build ahead ended' });
    }
    const schema = buildSchemaName(product.name, runId);
    let inputs: LockedInput[] = [];
    let checks: CheckResult[] = [];
    try {
      hooks.onStep?.({ name: 'plan', status: 'start' });
      inputs = await planBuild(db, entry);
      await p.runs.setLineage(runId, { inputs });
      if (options.skipIfPublished) {
        const published = await publishedLock(db, product.name);
        if (published && sameInputs(inputs, published.inputs)) {
          const message = `version ${published.version} (run ${published.runId}) was built from these same inputs: nothing new to publish`;
          hooks.onStep?.({ name: 'plan', status: 'done', ms: Date.now() - started, detail: message });
          return {
            result: { product: product.name, upToDate: true, version: published.version, message },
            lineage: { inputs },
          };
        }
      }
      await analyzeInputs(db, inputs);
      hooks.onStep?.({
        name: 'plan',
        status: 'done',
        ms: Date.now() - started,
        detail: inputs.map((i) => `${i.dataset}@${i.version}`).join(', '),
      });

      // A retried run's earlier attempt may have left its schema (kept for inspection when it failed): this
      // attempt starts afresh.
      await db.exec(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`);
      await db.exec(`CREATE SCHEMA ${ident(schema)}`);
      await db.exec(
        `COMMENT ON SCHEMA ${ident(schema)} IS ${literal(JSON.stringify({ product: product.name, runId, createdAt: new Date().toISOString() }))}`,
      );
      // The product's SQL sees its inputs by alias, never by version.
      for (const input of inputs)
        await db.exec(
          `CREATE VIEW ${qualified(schema, input.alias)} AS SELECT * FROM ${qualified(DATASETS_SCHEMA, input.table)}`,
        );
      await grantBuildSchema(db, schema, inputs);
      await db.exec(`SET search_path TO ${ident(schema)}, public`);

      const tSteps = Date.now();
      const steps = await runSteps(db, entry, hooks);
      const stepsMs = Date.now() - tSteps;

      const tChecks = Date.now();
      hooks.onStep?.({ name: 'checks', status: 'start' });
      checks = [];
      // Checks read what the product made, as the product role too: a check's SQL is the catalog's.
      const asProduct = productQueryable(db);
      for (const c of product.checks) checks.push(await runCheck(asProduct, c));
      const failed = checks.filter((c) => !c.passed && c.severity === 'error');
      const warned = checks.filter((c) => !c.passed && c.severity === 'warn').length;
      hooks.onStep?.({
        name: 'checks',
        status: 'done',
        ms: Date.now() - tChecks,
        detail: `${checks.filter((c) => c.passed).length} passed, ${failed.length} failed, ${warned} warned`,
      });
      // From here the platform's own user reads the product's tables (the QA report, the exports): nothing
      // the product defined may be on its search path, and the outputs must be plain tables.
      await db.exec('SET search_path TO public');
      await checkOutputsArePlainTables(
        db,
        schema,
        product.outputs.map((o) => o.table),
      );
      const builtAt = new Date();
      if (failed.length > 0)
        throw await reportFailedChecks(p, new CheckFailedError(checks), {
          schema,
          entry,
          runId,
          checks,
          builtAt,
        });
      const checksMs = Date.now() - tChecks;

      const version = `${timestamp(builtAt)}-${runId.slice(-8)}`;
      const prefix = productVersionPrefix(product.name, version);
      const tExport = Date.now();
      const outputs: PublishedFile[] = [];
      // Every output's formats are checked before the first file is written.
      for (const { output, format } of await planExports(db, schema, product.outputs)) {
        hooks.onStep?.({ name: `export ${output.name ?? output.table}.${format}`, status: 'start' });
        const t = Date.now();
        const file = await exportOutput(db, p.store, { schema, output, format, prefix });
        outputs.push(file);
        hooks.onStep?.({
          name: `export ${file.name}.${format}`,
          status: 'done',
          ms: Date.now() - t,
          detail: `${file.rows} rows`,
        });
      }
      const exportMs = Date.now() - tExport;
      const tQa = Date.now();
      const qa = await publishQaReport(p, { schema, entry, runId, checks, builtAt, version }, hooks);
      const qaMs = Date.now() - tQa;

      const manifest: Manifest = {
        product: product.name,
        ...(product.title ? { title: product.title } : {}),
        version,
        runId,
        builtAt: builtAt.toISOString(),
        platform: { name: 'strata', version: PLATFORM_VERSION, engine: db.engine },
        inputs,
        steps,
        checks,
        outputs,
        qa,
        timings: { stepsMs, checksMs, exportMs, qaMs, totalMs: Date.now() - started },
      };
      const manifestKey = versionManifestKey(product.name, version);
      // Registered before its manifest makes it a version: if the database is gone now, nothing is visible;
      // if the manifest cannot be written, the registration is taken back.
      await db.query(
        'INSERT INTO strata.product_versions (product, version, run_id, manifest_key) VALUES ($1, $2, $3, $4)',
        [product.name, version, runId, manifestKey],
      );
      try {
        await p.store.put('egress', manifestKey, `${JSON.stringify(manifest, null, 2)}\n`, {
          contentType: 'application/json',
        });
      } catch (e) {
        await db
          .query('DELETE FROM strata.product_versions WHERE product = $1 AND version = $2', [
            product.name,
            version,
          ])
          .catch(() => {});
        throw e;
      }
      const outcome = {
        result: {
          product: product.name,
          version,
          published: p.store.locate('egress', prefix),
          manifest: manifestKey,
          qaReport: qa.html,
          outputs: outputs.map((o) => ({ key: o.key, rows: o.rows, size: o.size, sha256: o.sha256 })),
          checks: checks.map((c) => ({ name: c.name, passed: c.passed, count: c.count })),
          steps,
        },
        lineage: { inputs },
      };
      // The commit point: nothing after it may fail the run.
      const pointer: LatestPointer = {
        product: product.name,
        version,
        manifest: manifestKey,
        publishedAt: new Date().toISOString(),
      };
      await p.store.put('egress', latestKey(product.name), `${JSON.stringify(pointer, null, 2)}\n`, {
        contentType: 'application/json',
        replace: true,
      });
      Object.assign(outcome.result, {
        federation: await announcePublished(p, catalog, manifestKey, new Date(pointer.publishedAt)),
      });
      await db.exec('RESET search_path').catch(() => {});
      // Left for `strata gc` if it cannot be dropped now.
      await db.exec(`DROP SCHEMA ${ident(schema)} CASCADE`).catch(() => {});
      return outcome;
    } catch (e) {
      // The build schema stays for inspection until `strata gc` (after keepFailedBuildHours).
      if (e instanceof StrataError) e.withContext({ buildSchema: schema });
      throw e;
    } finally {
      await db.exec('RESET search_path').catch(() => {});
      // Every session lock, the build's own and any the product's SQL took, so none outlives the build on
      // the pooled connection.
      await db.query('SELECT pg_advisory_unlock_all()').catch(() => {});
    }
  });
}
