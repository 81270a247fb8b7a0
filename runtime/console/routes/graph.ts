import { inputNode, nodeId, topologicalOrder } from '../../catalog/graph.ts';
import { isUpstreamInput } from '../../catalog/schema.ts';
import type { Catalog } from '../../catalog-files/loader.ts';
import type { Run } from '../../runs/schema.ts';
import { htmlPage, htmlProblems, toSignIn, view } from '../../web/pages.ts';
import { type GraphEdge, type GraphNode, graphPage, type LineageGraph } from '../pages/graph.ts';
import { FRESH_TONE, type ProductRow } from '../pages/products.ts';
import type { DatasetSummary } from '../reads.ts';
import { type ConsoleRoutes, respond } from '../respond.ts';
import { productRows } from './products.ts';

/** Enough recent runs to find the last of every dataset and product of a catalog in one read. */
const RECENT_RUNS = 500;

const datasetId = (name: string) => nodeId({ kind: 'dataset', name });
const productId = (name: string) => nodeId({ kind: 'product', name });

/** The last run of each dataset (ingest, load, fetch) and product (build), by node id; newest first in. */
function lastRuns(runs: readonly Run[]): Map<string, Run> {
  const last = new Map<string, Run>();
  for (const r of runs) {
    const id = r.kind === 'build' ? productId(r.target) : datasetId(r.target);
    if (!last.has(id)) last.set(id, r);
  }
  return last;
}

/** Each input of each product as an edge from what it reads (a dataset, or another product's output). */
function inputEdges(catalog: Catalog): GraphEdge[] {
  return [...catalog.products.values()].flatMap(({ product }) =>
    Object.entries(product.inputs).map(([input, i]) => ({
      from: nodeId(inputNode(i)),
      to: productId(product.name),
      input: isUpstreamInput(i) ? `${input} (${i.output})` : input,
      version: i.version,
    })),
  );
}

/**
 * A product's freshness as the console shows it, bounded by what it reads: a product on time that reads a
 * late one is late too, and says which (its newest version was built from data that is behind).
 */
function boundedStates(catalog: Catalog, products: readonly ProductRow[]): Map<string, GraphNode['state']> {
  const rows = new Map(products.map((p) => [p.entry.product.name, p]));
  const states = new Map<string, GraphNode['state']>();
  for (const name of topologicalOrder(catalog.products, rows.keys())) {
    const own = rows.get(name)!.freshness.state;
    const late = Object.values(catalog.products.get(name)!.product.inputs)
      .filter(isUpstreamInput)
      .map((i) => i.product)
      .filter((u) => states.get(u)?.tone === 'bad');
    states.set(
      name,
      own !== 'late' && late.length > 0
        ? { label: `late: reads ${late.join(', ')}`, tone: 'bad' }
        : { label: own, tone: FRESH_TONE[own] },
    );
  }
  return states;
}

/** The catalog's datasets and products with their inputs, freshness and last runs. */
export function consoleGraph(
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
  const states = boundedStates(catalog, products);
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
      state: states.get(p.entry.product.name)!,
      ...run(productId(p.entry.product.name)),
    })),
  ];
  return { nodes, edges: inputEdges(catalog) };
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
          ? consoleGraph(catalog, datasets, products, runs.ok)
          : {
              ...consoleGraph(catalog, datasets, products, undefined),
              runsUnavailable: `Last runs are not shown: the database did not answer (${runs.failed.name}). Datasets, products and freshness are read from the buckets; load this page again in a minute for the runs.`,
            };
      const body = graphPage(view(c), graph);
      return (await respond(c, { title: 'Lineage', section: 'graph', body })) as never;
    },
  );
}
