import type { Catalog } from '../catalog/loader.ts';
import type { ProductEntry } from '../catalog/schema.ts';
import { BuildError, CheckFailedError, type CheckResult, ConflictError, StrataError } from '../errors.ts';
import type { JobHooks } from '../jobs/hooks.ts';
import { DATASETS_SCHEMA } from '../load/table.ts';
import type { Platform } from '../platform.ts';
import type { Database } from '../ports/database.ts';
import { exportOutput, type PublishedFile } from '../publish/export.ts';
import { type LatestPointer, latestKey, type Manifest, productVersionPrefix } from '../publish/manifest.ts';
import { timestamp } from '../util/ids.ts';
import { ident, literal, qualified } from '../util/sql.ts';
import { sqlPosition } from '../util/sql-position.ts';
import { PLATFORM_VERSION } from '../version.ts';
import { runCheck } from './checks.ts';
import { type LockedInput, planBuild, requireProduct } from './plan.ts';

/** `build_<product>_<run>`: at most 63 bytes, and says whose it is. */
export function buildSchemaName(product: string, runId: string): string {
  return `build_${product}_${runId.replace(/[TZ]/g, '').replace(/-/g, '_').toLowerCase()}`.slice(0, 63);
}

/** Where in a step's file a database error points. */
const lineAt = (sql: string, position: unknown): number | undefined => sqlPosition(sql, position)?.line;

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
      await db.exec(step.sql);
    } catch (e) {
      const err = e as { message?: string; position?: unknown };
      const line = lineAt(step.sql, err.position);
      throw new BuildError(
        `step ${step.file}${line ? ` (line ${line})` : ''} failed: ${err.message ?? String(e)}`,
        {
          step: step.file,
          file: `products/${entry.product.name}/${step.file}`,
          line,
          position: Number(err.position) || undefined,
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

/**
 * Builds a product in its own schema from locked input versions, checks it, and publishes it. Nothing is
 * published unless every step and every error-severity check passed; `latest.json` is written last.
 * Builds of one product are serialised by an advisory lock; a second one running at once fails clearly.
 */
export async function buildProduct(
  p: Platform,
  catalog: Catalog,
  productName: string,
  runId: string,
  hooks: JobHooks = {},
): Promise<BuildOutcome> {
  const entry = requireProduct(catalog, productName);
  const product = entry.product;
  const db = p.db;
  const started = Date.now();
  return db.session(async () => {
    const [lock] = await db.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
      `strata.build.${product.name}`,
    ]);
    if (!lock?.ok)
      throw new ConflictError(
        `product "${product.name}" is being built by another run; try again when it ends`,
      );
    const schema = buildSchemaName(product.name, runId);
    let inputs: LockedInput[] = [];
    let checks: CheckResult[] = [];
    try {
      hooks.onStep?.({ name: 'plan', status: 'start' });
      inputs = await planBuild(db, entry);
      await p.runs.setLineage(runId, { inputs });
      await analyzeInputs(db, inputs);
      hooks.onStep?.({
        name: 'plan',
        status: 'done',
        ms: Date.now() - started,
        detail: inputs.map((i) => `${i.dataset}@${i.version}`).join(', '),
      });

      await db.exec(`CREATE SCHEMA ${ident(schema)}`);
      await db.exec(
        `COMMENT ON SCHEMA ${ident(schema)} IS ${literal(JSON.stringify({ product: product.name, runId, createdAt: new Date().toISOString() }))}`,
      );
      // The product's SQL sees its inputs by alias, never by version.
      for (const input of inputs)
        await db.exec(
          `CREATE VIEW ${qualified(schema, input.alias)} AS SELECT * FROM ${qualified(DATASETS_SCHEMA, input.table)}`,
        );
      await db.exec(`SET search_path TO ${ident(schema)}, public`);

      const tSteps = Date.now();
      const steps = await runSteps(db, entry, hooks);
      const stepsMs = Date.now() - tSteps;

      const tChecks = Date.now();
      hooks.onStep?.({ name: 'checks', status: 'start' });
      checks = [];
      for (const c of product.checks) checks.push(await runCheck(db, c));
      const failed = checks.filter((c) => !c.passed && c.severity === 'error');
      const warned = checks.filter((c) => !c.passed && c.severity === 'warn').length;
      hooks.onStep?.({
        name: 'checks',
        status: 'done',
        ms: Date.now() - tChecks,
        detail: `${checks.filter((c) => c.passed).length} passed, ${failed.length} failed, ${warned} warned`,
      });
      if (failed.length > 0) throw new CheckFailedError(checks);
      const checksMs = Date.now() - tChecks;

      const builtAt = new Date();
      const version = `${timestamp(builtAt)}-${runId.slice(-8)}`;
      const prefix = productVersionPrefix(product.name, version);
      const tExport = Date.now();
      const outputs: PublishedFile[] = [];
      for (const output of product.outputs) {
        for (const format of output.formats) {
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
      }
      const exportMs = Date.now() - tExport;

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
        timings: { stepsMs, checksMs, exportMs, totalMs: Date.now() - started },
      };
      const manifestKey = `${prefix}manifest.json`;
      await p.store.put('egress', manifestKey, `${JSON.stringify(manifest, null, 2)}\n`, {
        contentType: 'application/json',
      });
      await db.query(
        'INSERT INTO strata.product_versions (product, version, run_id, manifest_key) VALUES ($1, $2, $3, $4)',
        [product.name, version, runId, manifestKey],
      );
      const outcome = {
        result: {
          product: product.name,
          version,
          published: p.store.locate('egress', prefix),
          manifest: manifestKey,
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
      await db
        .query('SELECT pg_advisory_unlock(hashtext($1))', [`strata.build.${product.name}`])
        .catch(() => {});
    }
  });
}
