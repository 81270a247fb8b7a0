import type { Catalog } from '../../catalog-files/loader.ts';
import type { Run } from '../../runs/schema.ts';
import { type GraphEdge, type GraphNode, graphPage, type LineageGraph } from '../pages/graph.ts';
import { FRESH_TONE, type ProductRow } from '../pages/products.ts';
import type { DatasetSummary } from '../reads.ts';
import { type ConsoleRoutes, htmlPage, htmlProblems, respond, toSignIn, view } from '../respond.ts';
import { productRows } from './products.ts';

/** Enough recent runs to find the last of every dataset and product of a catalog in one read. */
const RECENT_RUNS = 500;

const datasetId = (name: string) => `dataset:${name}`;
const productId = (name: string) => `product:${name}`;

/** The last run of each dataset (ingest, load, fetch) and product (build), by node id; newest first in. */
function lastRuns(runs: readonly Run[]): Map<string, Run> {
  const last = new Map<string, Run>();
  for (const r of runs) {
    const id = r.kind === 'build' ? productId(r.target) : datasetId(r.target);
    if (!last.has(id)) last.set(id, r);
  }
  return last;
}

/** The catalog's datasets and products with their inputs, freshness and last runs. */
export function lineageGraph(
  catalog: Catalog,
  datasets: readonly DatasetSummary[],
  products: readonly ProductRow[],
  runs: readonly Run[] | undefined,
): Omit<LineageGraph, 'runsUnavailable'> {
  const last = lastRuns(runs ?? []);
  const run = (id: string) => {
    const r = last.get(id);
    return r ? { run: { id: r.id, status: r.status } } : {};
  };
  const nodes: GraphNode[] = [
    ...datasets.map((d) => ({
      id: datasetId(d.name),
      kind: 'dataset' as const,
      name: d.name,
      ...(d.current ? { version: d.current.version } : {}),
      state: d.current
        ? { label: 'current version', tone: 'ok' as const }
        : { label: 'no version yet', tone: 'warn' as const },
      ...run(datasetId(d.name)),
    })),
    ...products.map((p) => ({
      id: productId(p.entry.product.name),
      kind: 'product' as const,
      name: p.entry.product.name,
      ...(p.latest ? { version: p.latest.version } : {}),
      state: { label: p.freshness.state, tone: FRESH_TONE[p.freshness.state] },
      ...run(productId(p.entry.product.name)),
    })),
  ];
  const edges: GraphEdge[] = [...catalog.products.values()].flatMap(({ product }) =>
    Object.entries(product.inputs).map(([input, i]) => ({
      from: datasetId(i.dataset),
      to: productId(product.name),
      input,
      version: i.version,
    })),
  );
  return { nodes, edges };
}

/** The lineage graph: datasets and products as boxes, inputs as arrows (runs need the database; the rest does not). */
export function graphPages({ app, deps, published, archive, route }: ConsoleRoutes): void {
  const { catalog } = deps;
  app.openapi(
    route({
      method: 'get',
      path: '/graph',
      summary: 'Console: the lineage graph of datasets and products, with freshness and last runs',
      responses: { 200: htmlPage('the lineage graph'), ...toSignIn, ...htmlProblems(401, 403) },
    }),
    async (c) => {
      const [datasets, products, runs] = await Promise.all([
        archive.datasets(catalog),
        productRows(catalog, published),
        // The drawing is whole without them: a paused database (Aurora at 0 ACU) costs the page its run
        // colours, not the page.
        deps.runs.list({ limit: RECENT_RUNS }).then(
          (r) => ({ ok: r }),
          (e: Error) => ({ failed: e }),
        ),
      ]);
      const graph: LineageGraph =
        'ok' in runs
          ? lineageGraph(catalog, datasets, products, runs.ok)
          : {
              ...lineageGraph(catalog, datasets, products, undefined),
              runsUnavailable: `Last runs are not shown: the database did not answer (${runs.failed.name}). Datasets, products and freshness are read from the buckets; load this page again in a minute for the runs.`,
            };
      const body = graphPage(view(c), graph);
      return (await respond(c, { title: 'Lineage', section: 'graph', body })) as never;
    },
  );
}
