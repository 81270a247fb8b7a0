import type { Product, ProductEntry } from '../catalog/schema.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import { isDatabaseUnavailable } from '../db/transient.ts';
import { BuildError, CheckFailedError, type CheckResult, StrataError } from '../errors.ts';
import { productVersionPrefix } from '../layout/buckets.ts';
import type { Platform } from '../platform/platform.ts';
import type { Database } from '../ports/database.ts';
import { exportOutput, planExports } from '../publish/export.ts';
import { type LockedInput, lockedName, type Manifest, type PublishedFile } from '../publish/manifest.ts';
import { publishVersion } from '../publish/publish.ts';
import { keepVersionTables } from '../publish/tables.ts';
import { writeChangeFeeds } from '../qa/changes.ts';
import { publishQaReport, reportFailedChecks } from '../qa/report.ts';
import { type JobHooks, step } from '../runs/steps.ts';
import { timestamp } from '../util/ids.ts';
import { ident } from '../util/sql.ts';
import { sqlPosition } from '../util/sql-position.ts';
import { PLATFORM_VERSION } from '../version.ts';
import {
  analyzeInputs,
  buildSchemaName,
  checkOutputsArePlainTables,
  createBuildSchema,
  PRODUCT_ROLE,
} from './build-schema.ts';
import { productQueryable, runCheck } from './checks.ts';
import { publishedLock, sameInputs } from './freshness.ts';
import { planBuild, requireProduct } from './plan.ts';

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

/** A build that has run its steps and passed its checks, in its schema, not yet exported. */
interface Built {
  readonly entry: ProductEntry;
  readonly runId: string;
  readonly schema: string;
  readonly inputs: readonly LockedInput[];
  readonly steps: readonly { file: string; ms: number }[];
  readonly checks: readonly CheckResult[];
  readonly builtAt: Date;
  /** The manifest's `timings` so far: `stepsMs`, `checksMs`. */
  readonly timings: Record<string, number>;
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
  const db = p.db;
  const started = Date.now();
  return db.session(async () => {
    await waitForTurn(db, entry.product.name, hooks);
    const schema = buildSchemaName(entry.product.name, runId);
    try {
      const plan = await lockInputs(p, entry, runId, hooks, options);
      if (plan.upToDate) return plan.upToDate.outcome;
      const built = await buildInSchema(p, { entry, runId, schema, inputs: plan.inputs }, hooks);
      const outcome = await publishBuild(p, catalog, built, hooks, started);
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

/**
 * Builds of one product queue behind each other: the second waits for the first to end, then plans against
 * what the first published.
 */
async function waitForTurn(db: Database, product: string, hooks: JobHooks): Promise<void> {
  const lockKey = `strata.build.${product}`;
  const [lock] = await db.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
    lockKey,
  ]);
  if (lock?.ok) return;
  // The wait's start says why it waits.
  const told: JobHooks = {
    onStep: (s) =>
      hooks.onStep?.(s.status === 'start' ? { ...s, detail: `another build of ${product} is running` } : s),
  };
  await step(
    told,
    'wait',
    () => db.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]),
    () => 'the build ahead ended',
  );
}

/**
 * Locks every input to an exact dataset version and records the lock on the run. With `skipIfPublished`, a
 * lock the newest published version read already ends the build here with nothing to publish.
 */
async function lockInputs(
  p: Platform,
  entry: ProductEntry,
  runId: string,
  hooks: JobHooks,
  options: BuildOptions,
): Promise<{ inputs: LockedInput[]; upToDate?: { outcome: BuildOutcome; message: string } }> {
  const name = entry.product.name;
  const plan = async () => {
    const inputs = await planBuild(p.db, entry, p.store);
    await p.runs.setLineage(runId, { inputs });
    const published = options.skipIfPublished ? await publishedLock(p.db, name) : undefined;
    if (published && sameInputs(inputs, published.inputs)) {
      const message = `version ${published.version} (run ${published.runId}) was built from these same inputs: nothing new to publish`;
      const result = { product: name, upToDate: true, version: published.version, message };
      return { inputs, upToDate: { outcome: { result, lineage: { inputs } }, message } };
    }
    await analyzeInputs(p.db, inputs);
    return { inputs };
  };
  return step(hooks, 'plan', plan, (r) => r.upToDate?.message ?? r.inputs.map(lockedName).join(', '));
}

/**
 * Runs the product's SQL in the build's schema and its checks over what it made. A failed error-severity
 * check ends the build here, its QA report kept in the archive.
 */
async function buildInSchema(
  p: Platform,
  b: Pick<Built, 'entry' | 'runId' | 'schema' | 'inputs'>,
  hooks: JobHooks,
): Promise<Built> {
  const { entry, runId, schema } = b;
  const db = p.db;
  const timings: Record<string, number> = {};
  await createBuildSchema(db, { schema, product: entry.product.name, runId, inputs: b.inputs });
  const steps = await timed(timings, 'stepsMs', () => runSteps(db, entry, hooks));
  const checks = await timed(timings, 'checksMs', async () => {
    const results = await runChecks(db, entry.product, hooks);
    // From here the platform's own user reads the product's tables (the QA report, the exports): nothing
    // the product defined may be on its search path, and the outputs must be plain tables.
    await db.exec('SET search_path TO public');
    await checkOutputsArePlainTables(
      db,
      schema,
      entry.product.outputs.map((o) => o.table),
    );
    return results;
  });
  const builtAt = new Date();
  if (checks.some((c) => !c.passed && c.severity === 'error'))
    throw await reportFailedChecks(p, new CheckFailedError(checks), {
      schema,
      entry,
      runId,
      checks,
      builtAt,
      inputs: b.inputs,
    });
  return { ...b, steps, checks, builtAt, timings };
}

/**
 * Runs each SQL file of the product as the product role (see sql/004_runs.sql): it reads `datasets` and
 * writes only in the build schema, whatever the file says, and cannot change role.
 */
async function runSteps(
  db: Database,
  entry: ProductEntry,
  hooks: JobHooks,
): Promise<{ file: string; ms: number }[]> {
  const times: Record<string, number> = {};
  const told = keepingTimes(hooks, times);
  for (const s of entry.steps) await step(told, s.file, () => runStepSql(db, entry, s));
  return entry.steps.map((s) => ({ file: s.file, ms: times[s.file] ?? 0 }));
}

/** Where in a step's file a database error points. */
const lineAt = (sql: string, position: unknown): number | undefined => sqlPosition(sql, position)?.line;

async function runStepSql(
  db: Database,
  entry: ProductEntry,
  s: ProductEntry['steps'][number],
): Promise<void> {
  try {
    await db.query('SELECT strata.run_product_sql($1)', [s.sql]);
  } catch (e) {
    if (isDatabaseUnavailable(e)) throw e;
    // The script runs inside a function: PostgreSQL points into it with the internal position.
    const err = e as { message?: string; position?: unknown; internalPosition?: unknown };
    const position = Number(err.internalPosition) || undefined;
    const line = lineAt(s.sql, position);
    const denied = /permission denied|must be owner|cannot set parameter/.test(err.message ?? '');
    throw new BuildError(
      `step ${s.file}${line ? ` (line ${line})` : ''} failed: ${err.message ?? String(e)}${
        denied
          ? `; product SQL runs as role ${PRODUCT_ROLE}, which reads datasets and writes only its own build schema`
          : ''
      }`,
      {
        step: s.file,
        file: `products/${entry.product.name}/${s.file}`,
        line,
        position,
        dbMessage: err.message,
      },
    );
  }
}

/** Checks read what the product made as the product role too: a check's SQL is the catalog's. */
async function runChecks(db: Database, product: Product, hooks: JobHooks): Promise<CheckResult[]> {
  const check = async () => {
    const asProduct = productQueryable(db);
    const results: CheckResult[] = [];
    for (const c of product.checks) results.push(await runCheck(asProduct, c));
    return results;
  };
  return step(hooks, 'checks', check, (checks) => {
    const failed = checks.filter((c) => !c.passed && c.severity === 'error').length;
    const warned = checks.filter((c) => !c.passed && c.severity === 'warn').length;
    return `${checks.filter((c) => c.passed).length} passed, ${failed} failed, ${warned} warned`;
  });
}

/** Exports every output in every format under the version's prefix; all formats are checked before the first file. */
async function exportOutputs(p: Platform, schema: string, product: Product, prefix: string, hooks: JobHooks) {
  const outputs: PublishedFile[] = [];
  for (const { output, format } of await planExports(p.db, schema, product.outputs)) {
    const file = await step(
      hooks,
      `export ${output.name ?? output.table}.${format}`,
      () => exportOutput(p.db, p.store, { schema, output, format, prefix }),
      (f) => `${f.rows} rows`,
    );
    outputs.push(file);
  }
  return outputs;
}

/** Exports the outputs and writes the QA report under the version's prefix, then publishes the version. */
async function publishBuild(
  p: Platform,
  catalog: Catalog,
  b: Built,
  hooks: JobHooks,
  started: number,
): Promise<BuildOutcome> {
  const { entry, runId, schema, checks, builtAt, timings } = b;
  const product = entry.product;
  const version = `${timestamp(builtAt)}-${runId.slice(-8)}`;
  const prefix = productVersionPrefix(product.name, version);
  const outputs = await timed(timings, 'exportMs', () => exportOutputs(p, schema, product, prefix, hooks));
  const qa = await timed(timings, 'qaMs', () =>
    publishQaReport(p, { schema, entry, runId, checks, builtAt, version, inputs: b.inputs }, hooks),
  );
  await timed(timings, 'changesMs', () => writeChangeFeeds(p, { schema, product, version }, hooks));
  const tables = product.outputs.map((o) => o.table);
  await timed(timings, 'keepMs', () =>
    keepVersionTables(p.db, { buildSchema: schema, product: product.name, version, runId, tables }),
  );
  const manifest: Manifest = {
    product: product.name,
    ...(product.title ? { title: product.title } : {}),
    version,
    runId,
    builtAt: builtAt.toISOString(),
    platform: { name: 'strata', version: PLATFORM_VERSION, engine: p.db.engine },
    inputs: [...b.inputs],
    steps: [...b.steps],
    checks: checks.map((c) => ({ ...c, sample: [...c.sample] })),
    outputs,
    qa,
    timings: { ...timings, totalMs: Date.now() - started },
  };
  const published = await publishVersion(p, catalog, manifest);
  return {
    result: {
      product: product.name,
      version,
      published: p.store.locate('egress', prefix),
      manifest: published.manifestKey,
      qaReport: qa.html,
      outputs: outputs.map((o) => ({ key: o.key, rows: o.rows, size: o.size, sha256: o.sha256 })),
      checks: checks.map((c) => ({ name: c.name, passed: c.passed, count: c.count })),
      steps: b.steps,
      federation: published.federation,
    },
    lineage: { inputs: b.inputs },
  };
}

/** Hooks that pass every step on and keep each finished step's time by its name. */
function keepingTimes(hooks: JobHooks, into: Record<string, number>): JobHooks {
  return {
    ...hooks,
    onStep: (s) => {
      if (s.status === 'done' && s.ms !== undefined) into[s.name] = s.ms;
      return hooks.onStep?.(s);
    },
  };
}

/** Times a phase of the build for the manifest's `timings`, under `name`, telling no one else. */
function timed<T>(timings: Record<string, number>, name: string, work: () => Promise<T>): Promise<T> {
  return step(keepingTimes({}, timings), name, work);
}
