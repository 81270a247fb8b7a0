import { downstreamOf, upstreamOf, upstreamProducts } from '../catalog/graph.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import type { Platform } from '../platform/platform.ts';
import { freshnessOf } from '../products/freshness.ts';
import { requireProduct } from '../products/plan.ts';
import type { Run, Trigger } from '../runs/schema.ts';
import type { JobHooks } from '../runs/steps.ts';
import { workUntil } from './execute.ts';
import { submit } from './submit.ts';

/** What became of one product of a graph build. */
export type GraphStep =
  | { readonly product: string; readonly status: 'built'; readonly run: Run }
  | { readonly product: string; readonly status: 'failed'; readonly run: Run }
  /** Not built: `reason` says why (fresh already, or a product it reads failed). */
  | { readonly product: string; readonly status: 'skipped'; readonly reason: string };

export interface GraphBuildOptions {
  /** `downstream`: the product and everything that reads it, after it. `upstream`: what it reads first. */
  readonly direction: 'downstream' | 'upstream';
  readonly trigger: Trigger;
  /** Told before each build starts, with its queued run. */
  readonly onBuild?: (product: string, run: Run) => void;
  /** The hooks of each build's steps. */
  readonly hooks?: JobHooks;
}

/**
 * The products a graph build takes, in build order: with `downstream`, `product` then every product reading
 * it (directly or through others); with `upstream`, every product it reads, then `product`.
 */
export function graphBuildOrder(
  catalog: Catalog,
  product: string,
  direction: 'downstream' | 'upstream',
): string[] {
  requireProduct(catalog, product);
  return direction === 'downstream'
    ? [product, ...downstreamOf(catalog.products, { kind: 'product', name: product })]
    : [...upstreamOf(catalog.products, product), product];
}

/**
 * Builds a product and the part of the graph around it, one after the other in build order, each reading
 * what the one before published. A product whose upstream failed (or was skipped for it) is not built, and
 * says which. Upstream, a product is built only where it is stale (its newest version did not read what it
 * would read now); the product asked for is always built, as `strata build` builds it.
 */
export async function buildGraph(
  p: Platform,
  catalog: Catalog,
  product: string,
  options: GraphBuildOptions,
): Promise<GraphStep[]> {
  const steps: GraphStep[] = [];
  const broken = new Map<string, string>();
  for (const name of graphBuildOrder(catalog, product, options.direction)) {
    const entry = catalog.products.get(name)!;
    const blocker = upstreamProducts(entry.product).find((u) => broken.has(u));
    if (blocker) {
      const reason = `not built: it reads ${blocker}, which ${broken.get(blocker)}`;
      broken.set(name, 'was not built');
      steps.push({ product: name, status: 'skipped', reason });
      continue;
    }
    if (options.direction === 'upstream' && name !== product) {
      const f = await freshnessOf(p.db, entry, p.store);
      if (f.state === 'fresh') {
        steps.push({
          product: name,
          status: 'skipped',
          reason: `fresh: version ${f.published.version} read what it reads now`,
        });
        continue;
      }
    }
    const queued = await submit(p, { kind: 'build', product: name }, options.trigger);
    options.onBuild?.(name, queued);
    const run = await workUntil(p, catalog, queued.id, options.hooks);
    if (run.status === 'succeeded') steps.push({ product: name, status: 'built', run });
    else {
      broken.set(name, `failed (run ${run.id})`);
      steps.push({ product: name, status: 'failed', run });
    }
  }
  return steps;
}
