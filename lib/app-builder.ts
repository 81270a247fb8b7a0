import { resolve } from 'node:path';
import { type App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadCatalogOrThrow } from '../runtime/catalog-files/loader.ts';
import { catalogSchedules } from './config/schedules.ts';
import type { ChildEnvironment, Environment } from './config/schema.ts';
import { suppressChildFindings, suppressCoreFindings } from './nag.ts';
import { type ChildCatalog, ChildStack } from './stacks/child-stack.ts';
import { CoreStack } from './stacks/core-stack.ts';

/** The repository root: catalog directories in the configs are relative to it. */
export const ROOT = resolve(import.meta.dirname, '..');

/**
 * Each child's catalog, loaded and validated (a bad catalog fails the synth, not the first run) and its
 * schedules read: what `addEnvironments` needs, made before it because loading is asynchronous.
 */
export async function childCatalogs(
  environments: readonly Environment[],
): Promise<Map<string, ChildCatalog>> {
  const out = new Map<string, ChildCatalog>();
  for (const e of environments.filter((e): e is ChildEnvironment => e.kind === 'child')) {
    const dir = resolve(ROOT, e.catalog);
    const catalog = await loadCatalogOrThrow(dir).catch((err: Error) => {
      throw new Error(`environment ${e.name}: catalog ${e.catalog}: ${err.message}`);
    });
    out.set(e.name, { dir, schedules: catalogSchedules(catalog) });
  }
  return out;
}

/** One stack per environment on `app`, checked by cdk-nag: what `bin/app.ts`, the tests and `npm run cost` share. */
export function addEnvironments(
  app: App,
  environments: readonly Environment[],
  catalogs: ReadonlyMap<string, ChildCatalog>,
): (CoreStack | ChildStack)[] {
  const stacks = environments.map((config) => {
    const env = { account: config.account, region: config.region };
    const id = `strata-${config.name}`;
    if (config.kind === 'core') {
      const stack = new CoreStack(app, id, { env, config, description: `Strata core (${config.name})` });
      suppressCoreFindings(stack);
      return stack;
    }
    const catalog = catalogs.get(config.name);
    if (!catalog) throw new Error(`environment ${config.name}: its catalog was not loaded`);
    const stack = new ChildStack(app, id, {
      env,
      config,
      catalog,
      description: `Strata child (${config.name})`,
    });
    suppressChildFindings(stack);
    return stack;
  });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return stacks;
}
