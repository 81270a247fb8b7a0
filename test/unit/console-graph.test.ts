import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { layoutGraph } from '../../runtime/console/graph-layout.ts';
import type { ProductRow } from '../../runtime/console/pages/products.ts';
import type { Freshness } from '../../runtime/console/reads.ts';
import { consoleGraph } from '../../runtime/console/routes/graph.ts';
import type { Run } from '../../runtime/runs/schema.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { GRAPH } from '../helpers/product-graph.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function diamond(): Promise<Catalog> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-console-graph-'));
  dirs.push(dir);
  return writeCatalog(dir, GRAPH);
}

const rows = (catalog: Catalog, states: Record<string, Freshness['state']>): ProductRow[] =>
  [...catalog.products.values()].map((entry) => ({
    entry,
    latest: undefined,
    versions: 0,
    manifest: undefined,
    freshness: { state: states[entry.product.name] ?? 'on time', ageSeconds: 60, periodSeconds: 86_400 },
  }));

describe("the console's lineage graph of a catalog whose products read products", () => {
  it('draws an arrow for each input, from a product for a product input, and lays the diamond out by depth', async () => {
    const catalog = await diamond();
    const g = consoleGraph(
      catalog,
      [{ name: 'counts', versions: 1, current: undefined, quarantined: 0 }],
      rows(catalog, {}),
      [],
    );
    expect(g.edges.map((e) => `${e.from} > ${e.to} as ${e.input}`).sort()).toEqual([
      'dataset:counts > product:base as counts',
      'product:base > product:left as t (totals)',
      'product:base > product:reader as t (totals)',
      'product:base > product:right as t (totals)',
      'product:left > product:top as l (l)',
      'product:right > product:top as r (r)',
    ]);
    const placed = layoutGraph(
      g.nodes.map((n) => n.id),
      g.edges,
    );
    const layer = (id: string) => placed.get(id)!.layer;
    expect([
      layer('dataset:counts'),
      layer('product:base'),
      layer('product:left'),
      layer('product:top'),
    ]).toEqual([0, 1, 2, 3]);
    expect(layer('product:right')).toBe(2);
  });

  it('shows a product late when a product it reads is late, naming it, however far down', async () => {
    const catalog = await diamond();
    const g = consoleGraph(catalog, [], rows(catalog, { base: 'late', reader: 'no schedule' }), undefined);
    const state = (name: string) => g.nodes.find((n) => n.id === `product:${name}`)!.state;
    expect(state('base')).toEqual({ label: 'late', tone: 'bad' });
    expect(state('left')).toEqual({ label: 'late: reads base', tone: 'bad' });
    expect(state('reader')).toEqual({ label: 'late: reads base', tone: 'bad' });
    expect(state('top')).toEqual({ label: 'late: reads left, right', tone: 'bad' });
  });

  it("marks each node's last run: builds for products, ingests for datasets, the newest first", async () => {
    const catalog = await diamond();
    const run = (id: string, kind: Run['kind'], target: string, status: Run['status']) =>
      ({ id, kind, target, status }) as Run;
    const g = consoleGraph(
      catalog,
      [{ name: 'counts', versions: 1, current: undefined, quarantined: 0 }],
      rows(catalog, {}),
      [
        run('r3', 'build', 'right', 'failed'),
        run('r2', 'ingest', 'counts', 'succeeded'),
        run('r1', 'build', 'right', 'succeeded'),
      ],
    );
    expect(g.nodes.find((n) => n.id === 'product:right')!.run).toEqual({ id: 'r3', status: 'failed' });
    expect(g.nodes.find((n) => n.id === 'dataset:counts')!.run).toEqual({ id: 'r2', status: 'succeeded' });
    expect(g.nodes.find((n) => n.id === 'product:top')!.run).toBeUndefined();
  });
});
