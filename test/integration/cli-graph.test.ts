import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCatalog } from '../helpers/catalog.ts';
import { type CliHome, cliEngines, LONG } from '../helpers/cli.ts';
import { GRAPH } from '../helpers/product-graph.ts';

describe.each(cliEngines())('strata build --downstream|--upstream and strata lineage, on $name', (engine) => {
  const homes: CliHome[] = [];
  afterAll(async () => {
    for (const h of homes) await h.close();
  });

  it(
    'builds a diamond in order, rebuilds upstream only what is stale, and shows the graph',
    LONG,
    async () => {
      // Prepare
      const h = await engine.setup();
      homes.push(h);
      const catalog = join(h.home, 'catalog');
      await writeCatalog(catalog, GRAPH);
      const counts = join(h.home, 'counts.csv');
      await writeFile(counts, 'k,n\na,1\nb,2\n');
      const strata = (...args: string[]) => h.run(['--catalog', catalog, ...args]);
      expect((await strata('ingest', 'counts', counts)).code).toBe(0);

      // Act: everything after base, in order.
      const down = await strata('--json', 'build', 'base', '--downstream');
      // Assess
      expect(down.code, down.stderr).toBe(0);
      const built = JSON.parse(down.stdout) as { ok: boolean; steps: { product: string; status: string }[] };
      expect(built.steps.map((s) => `${s.product}:${s.status}`)).toEqual([
        'base:built',
        'left:built',
        'reader:built',
        'right:built',
        'top:built',
      ]);

      // Act: upstream of top, where nothing is stale, builds only top.
      const up = await strata('build', 'top', '--upstream');
      expect(up.code, up.stderr).toBe(0);
      expect(up.stderr).toMatch(/base: fresh: version \S+ read what it reads now/);
      expect(up.stderr.match(/^building (\w+)/gm)).toEqual(['building top']);

      // The lock names the upstream versions a build of top would read now.
      const plan = await strata('--json', 'build', 'top', '--plan');
      const lock = JSON.parse(plan.stdout) as {
        inputs: { alias: string; product: string; output: string }[];
      };
      expect(lock.inputs.map((i) => `${i.alias}=${i.product}/${i.output}`)).toEqual([
        'l=left/l',
        'r=right/r',
      ]);

      // Act: the graph around left.
      const lineage = await strata('--json', 'lineage', 'left');
      expect(lineage.code, lineage.stderr).toBe(0);
      const graph = JSON.parse(lineage.stdout) as {
        nodes: { id: string; state: string; version: string | null; lastRun: { status: string } | null }[];
        edges: { from: string; to: string; read: string | null }[];
      };
      // Upstream (counts, base), left itself, and what reads left (top): right is not on a path through left.
      expect(graph.nodes.map((n) => `${n.id}:${n.state}`)).toEqual([
        'dataset:counts:fresh',
        'product:base:fresh',
        'product:left:fresh',
        'product:top:fresh',
      ]);
      expect(graph.nodes.every((n) => n.version && n.lastRun?.status === 'succeeded')).toBe(true);
      const base = graph.nodes.find((n) => n.id === 'product:base')!;
      expect(graph.edges).toContainEqual(
        expect.objectContaining({ from: 'product:base', to: 'product:left', read: base.version }),
      );
      expect(graph.edges).toContainEqual(
        expect.objectContaining({ from: 'product:right', to: 'product:top' }),
      );

      // A new version of counts makes everything after it stale, and says so.
      await writeFile(counts, 'k,n\na,1\nb,2\nc,3\n');
      expect((await strata('ingest', 'counts', counts)).code).toBe(0);
      const text = await strata('lineage', 'top');
      expect(text.stdout).toMatch(/product +base +\S+ +stale \(its inputs moved since its newest version\)/);
      expect(text.stdout).toMatch(/\* product +top +\S+ +stale \(reads left, right, not fresh\)/);
      expect(text.stdout).toMatch(/reads l = left\/l@latest \(read \S+\)/);
    },
  );

  it('refuses a catalog whose products read each other round a loop, naming it', LONG, async () => {
    const h = await engine.setup();
    homes.push(h);
    const catalog = join(h.home, 'catalog');
    const { products, datasets } = GRAPH;
    // base now reads top: base → left → top → base.
    const looped = {
      datasets,
      products: {
        ...products,
        base: {
          product: {
            inputs: { counts: 'counts', back: { product: 'top', output: 'both_sides' } },
            outputs: [{ table: 'totals' }],
          },
          sql: { '010_totals.sql': 'CREATE TABLE totals AS SELECT k, n FROM counts;' },
        },
      },
    };
    // The loader refuses it once it is written, as validate will.
    await expect(writeCatalog(catalog, looped)).rejects.toThrow(/round a loop/);
    const r = await h.run(['--catalog', catalog, 'validate', '--no-sql']);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('products read each other round a loop: base → left → top → base');
    expect(r.stdout).toContain('products read each other round a loop: base → right → top → base');
  });
});
