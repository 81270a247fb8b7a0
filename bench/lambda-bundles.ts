/**
 * Each Lambda's bundle, as it was (the AWS SDK left to the runtime, source maps loaded at start) and as it is
 * (LAMBDA_BUNDLING: the pinned SDK bundled, maps beside the bundle but not loaded): bytes, and the time Node
 * takes to load the bundle (the module graph and its top-level code), the part of a cold start a bundle
 * decides. A real cold start also downloads and unpacks the code and starts the runtime; only an account
 * measures that. `npm run bench:lambdas` (node --import tsx bench/lambda-bundles.ts [runs]).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { LAMBDA_BUNDLING } from '../lib/constructs/strata-function.ts';
import { ENV } from '../runtime/aws/names.ts';

const ROOT = join(import.meta.dirname, '..');
const OUT = join(ROOT, 'bench', 'out', 'lambda-bundles');
const runs = Number(process.argv[2] ?? 5);

/** What the template gives each function, with dummy values: enough for every module's start-up to run. */
const environment: Record<string, string> = {
  ...Object.fromEntries(Object.values(ENV).map((name) => [name, `dummy-${name.toLowerCase()}`])),
  [ENV.taskDefinitions]: '{}',
  [ENV.coreChildren]: '[]',
  [ENV.maxConcurrentTasks]: '10',
  [ENV.maxUploadBytes]: '1048576',
  [ENV.publicBaseUrl]: 'https://api.example.org',
  STRATA_CATALOG: join(ROOT, 'catalog'),
  AWS_REGION: 'eu-west-2',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'example',
};

const variants = {
  before: { external: ['@aws-sdk/*'], keepNames: false, sourcesContent: true, loadMaps: true },
  after: {
    external: [...LAMBDA_BUNDLING.externalModules],
    keepNames: LAMBDA_BUNDLING.keepNames,
    sourcesContent: LAMBDA_BUNDLING.sourcesContent,
    loadMaps: false,
  },
} as const;

const functions = readdirSync(join(ROOT, 'lambdas')).filter((d) => d !== 'shared');
rmSync(OUT, { recursive: true, force: true });
const rows: string[] = [];
const totals = { before: { bytes: 0, map: 0 }, after: { bytes: 0, map: 0 } };
for (const fn of functions) {
  const cells: string[] = [fn];
  for (const [name, v] of Object.entries(variants) as [
    keyof typeof variants,
    (typeof variants)[keyof typeof variants],
  ][]) {
    const outfile = join(OUT, name, fn, 'index.mjs');
    await build({
      entryPoints: [join(ROOT, 'lambdas', fn, 'handler.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: LAMBDA_BUNDLING.target,
      minify: LAMBDA_BUNDLING.minify,
      keepNames: v.keepNames,
      sourcemap: 'external',
      sourcesContent: v.sourcesContent,
      external: [...v.external],
      banner: { js: LAMBDA_BUNDLING.banner },
      logLevel: 'error',
    });
    const bytes = statSync(outfile).size;
    const map = statSync(`${outfile}.map`).size;
    totals[name].bytes += bytes;
    totals[name].map += map;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const probe = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(outfile).href)}); process.stdout.write(String(performance.now() - t));`;
      const r = spawnSync(
        process.execPath,
        [...(v.loadMaps ? ['--enable-source-maps'] : []), '--input-type=module', '-e', probe],
        { cwd: ROOT, env: { ...process.env, ...environment }, encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(`${fn} (${name}) did not load: ${r.stderr.slice(0, 500)}`);
      times.push(Number(r.stdout));
    }
    times.sort((a, b) => a - b);
    cells.push(
      `${(bytes / 1024).toFixed(0)} KB`,
      `${(map / 1024).toFixed(0)} KB`,
      `${times[times.length >> 1]!.toFixed(0)} ms`,
    );
  }
  rows.push(`| ${cells.join(' | ')} |`);
}
console.log('| function | before: bundle | map | load | after: bundle | map | load |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;
console.log(
  `| total | ${kb(totals.before.bytes)} | ${kb(totals.before.map)} | | ${kb(totals.after.bytes)} | ${kb(totals.after.map)} | |`,
);
