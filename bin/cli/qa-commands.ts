import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { FsObjectStore } from '../../runtime/adapters/local/fs-object-store.ts';
import { loadCatalogOrThrow } from '../../runtime/catalog-files/loader.ts';
import { NotFoundError } from '../../runtime/errors.ts';
import { strataHome } from '../../runtime/platform/local.ts';
import type { Platform } from '../../runtime/platform/platform.ts';
import { type ObjectStore, readJson, readText } from '../../runtime/ports/object-store.ts';
import { requireProduct } from '../../runtime/products/plan.ts';
import { readManifest } from '../../runtime/publish/versions.ts';
import { publishedQaLocation, QaLocation } from '../../runtime/qa/schema.ts';
import { type GlobalOptions, withPlatform } from './context.ts';
import { EXIT, printJson, say } from './output.ts';

type Action = <A extends unknown[]>(
  fn: (...args: A) => Promise<number | undefined>,
) => (...args: A) => Promise<void>;

/** Where a published version's report is; versions published before QA reports have none. */
export async function versionReport(
  store: ObjectStore,
  product: string,
  version: string,
): Promise<QaLocation> {
  const m = await readManifest(store, product, version);
  const location = m.qa ? QaLocation.parse(m.qa) : publishedQaLocation(product, m.version);
  if (!(await store.exists(location.bucket, location.html)))
    throw new NotFoundError(
      `version ${m.version} of "${product}" has no QA report: it was published before QA reports were written (the next build writes one)`,
    );
  return location;
}

/** Where a build run's report is: its version's, or the archive's for a build that failed its checks. */
export async function runReport(p: Platform, product: string, runId: string): Promise<QaLocation> {
  const run = await p.runs.get(runId);
  if (run.kind !== 'build' || run.target !== product)
    throw new NotFoundError(
      `run ${runId} is not a build of "${product}" (it is a ${run.kind} of "${run.target}")`,
    );
  if (run.status === 'succeeded') return versionReport(p.store, product, String(run.result?.version));
  const location = QaLocation.safeParse(run.error?.qaReport);
  if (location.success) return location.data;
  const why = run.error?.qaReportError
    ? `writing it failed: ${String(run.error.qaReportError)}`
    : run.status === 'failed'
      ? 'only a build that fails its checks keeps one'
      : `the run is ${run.status}`;
  throw new NotFoundError(`run ${runId} has no QA report: ${why}`);
}

export function registerQaCommands(program: Command, globals: () => GlobalOptions, action: Action): void {
  program
    .command('qa')
    .description(
      "a product version's QA report (the new version against the previous one, its checks and a map): prints where the page is; --json prints its figures",
    )
    .argument('<product>')
    .argument('[version]', 'a version id, or latest', 'latest')
    .option(
      '--run <id>',
      "a build run's report instead (a build that failed its checks keeps one in the archive)",
    )
    .option('--out <file>', 'also write a copy of the page to this file')
    .action(
      action(async (product: string, version: string, o: { run?: string; out?: string }) => {
        const g = globals();
        const show = async (store: ObjectStore, location: QaLocation) => {
          if (g.json) printJson(await readJson(store, location.bucket, location.json));
          else process.stdout.write(`${store.locate(location.bucket, location.html)}\n`);
          if (o.out) {
            await writeFile(o.out, await readText(store, location.bucket, location.html));
            say(`wrote ${o.out}`);
          }
          return EXIT.ok;
        };
        if (o.run)
          return withPlatform(g, async (p, catalog) => {
            requireProduct(catalog, product);
            return show(p.store, await runReport(p, product, o.run!));
          });
        // A version's report needs only the buckets: no database is opened, so it answers at once.
        requireProduct(await loadCatalogOrThrow(resolve(g.catalog)), product);
        const store = new FsObjectStore(join(strataHome(g.home), 'buckets'));
        return show(store, await versionReport(store, product, version));
      }),
    );
}
