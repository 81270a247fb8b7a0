import { resolveVersion } from '../archive/archive.ts';
import {
  downstreamOf,
  inputNode,
  type NodeRef,
  nodeId,
  topologicalOrder,
  upstreamOf,
  upstreamProducts,
} from '../catalog/graph.ts';
import { isUpstreamInput } from '../catalog/schema.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import type { Queryable } from '../ports/database.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { RunRegistry } from '../runs/registry.ts';
import { freshnessOf } from './freshness.ts';

/*
 * The graph of datasets and products as it stands: what each node's version is, whether it is fresh, how
 * its last run ended. `strata lineage` prints it; the console draws it from the same function.
 */

/**
 * - `fresh`: a dataset with a current version; a product whose newest version read what it would read now,
 *   and every product it reads is fresh too (a product is never fresher than its inputs).
 * - `stale`: a product that would read something else now, or reads a product that is not fresh.
 * - `blocked`: a product that cannot lock its inputs now (one has no version yet).
 * - `empty`: a dataset with no version yet.
 */
export type NodeState = 'fresh' | 'stale' | 'blocked' | 'empty';

export interface GraphNode {
  /** `dataset:<name>` or `product:<name>`. */
  readonly id: string;
  readonly kind: NodeRef['kind'];
  readonly name: string;
  /** A dataset's current version; a product's newest published version. */
  readonly version: string | null;
  readonly state: NodeState;
  /** Why a node is not fresh. */
  readonly reason?: string;
  /** The node's last ingest or build, whatever its end. */
  readonly lastRun: {
    readonly id: string;
    readonly status: string;
    readonly finishedAt: string | null;
  } | null;
}

export interface GraphEdge {
  /** The node read, and the product reading it (node ids). */
  readonly from: string;
  readonly to: string;
  /** The name the reading product gives it. */
  readonly alias: string;
  /** The output read, for an edge from a product. */
  readonly output?: string;
  /** `latest` or a pinned version. */
  readonly requested: string;
  /** The version the reader's newest published version read; null when it has none. */
  readonly read: string | null;
}

export interface LineageGraph {
  /** In build order: each node after every node it reads. */
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
}

/** The products and datasets around `node` (everything upstream and downstream of it), or the whole catalog. */
function productsAround(catalog: Catalog, node?: NodeRef): string[] {
  if (!node) return topologicalOrder(catalog.products, catalog.products.keys());
  const down = downstreamOf(catalog.products, node);
  if (node.kind === 'dataset') return down;
  return topologicalOrder(catalog.products, [...upstreamOf(catalog.products, node.name), node.name, ...down]);
}

async function lastRun(runs: RunRegistry, node: NodeRef): Promise<GraphNode['lastRun']> {
  const [run] = await runs.list({
    kind: node.kind === 'dataset' ? 'ingest' : 'build',
    target: node.name,
    limit: 1,
  });
  return run ? { id: run.id, status: run.status, finishedAt: run.finishedAt } : null;
}

/**
 * The graph around `node` (or the whole catalog's), with each node's version, state and last run, and each
 * edge with the version its reader last read. Reads the database and the egress bucket's manifests.
 */
export async function lineageGraph(
  db: Queryable,
  store: ObjectStore,
  catalog: Catalog,
  node?: NodeRef,
): Promise<LineageGraph> {
  const runs = new RunRegistry(db);
  const products = productsAround(catalog, node);
  const datasets = new Set<string>(node?.kind === 'dataset' ? [node.name] : []);
  for (const name of products)
    for (const i of Object.values(catalog.products.get(name)!.product.inputs))
      if (!isUpstreamInput(i)) datasets.add(i.dataset);
  const nodes: GraphNode[] = [];
  const states = new Map<string, NodeState>();
  for (const name of [...datasets].sort()) {
    const current = await resolveVersion(db, name, 'latest');
    const ref = { kind: 'dataset' as const, name };
    const n: GraphNode = {
      id: nodeId(ref),
      ...ref,
      version: current?.version ?? null,
      state: current ? 'fresh' : 'empty',
      ...(current ? {} : { reason: 'no version yet' }),
      lastRun: await lastRun(runs, ref),
    };
    nodes.push(n);
    states.set(n.id, n.state);
  }
  const edges: GraphEdge[] = [];
  for (const name of products) {
    const { node: n, edges: e } = await productNode(db, store, catalog, name, runs, states);
    nodes.push(n);
    edges.push(...e);
    states.set(n.id, n.state);
  }
  return { nodes, edges };
}

async function productNode(
  db: Queryable,
  store: ObjectStore,
  catalog: Catalog,
  name: string,
  runs: RunRegistry,
  states: ReadonlyMap<string, NodeState>,
): Promise<{ node: GraphNode; edges: GraphEdge[] }> {
  const entry = catalog.products.get(name)!;
  const ref = { kind: 'product' as const, name };
  const f = await freshnessOf(db, entry, store);
  const notFresh = upstreamProducts(entry.product).filter(
    (u) => (states.get(nodeId({ kind: 'product', name: u })) ?? 'fresh') !== 'fresh',
  );
  const state: NodeState =
    f.state === 'fresh' && notFresh.length > 0 ? 'stale' : f.state === 'blocked' ? 'blocked' : f.state;
  const reason =
    f.state === 'blocked'
      ? f.reason
      : f.state === 'stale'
        ? f.published
          ? 'its inputs moved since its newest version'
          : 'never published'
        : notFresh.length > 0
          ? `reads ${notFresh.join(', ')}, not fresh`
          : undefined;
  const read = new Map((f.published?.inputs ?? []).map((i) => [i.alias, i.version]));
  const edges = Object.entries(entry.product.inputs).map(([alias, i]) => ({
    from: nodeId(inputNode(i)),
    to: nodeId(ref),
    alias,
    ...(isUpstreamInput(i) ? { output: i.output } : {}),
    requested: i.version,
    read: read.get(alias) ?? null,
  }));
  const node: GraphNode = {
    id: nodeId(ref),
    ...ref,
    version: f.published?.version ?? null,
    state,
    ...(reason ? { reason } : {}),
    lastRun: await lastRun(runs, ref),
  };
  return { node, edges };
}
