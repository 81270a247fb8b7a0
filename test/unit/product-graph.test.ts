import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { downstreamOf, findCycles, topologicalOrder, upstreamOf } from '../../runtime/catalog/graph.ts';
import type { Product } from '../../runtime/catalog/schema.ts';
import { loadCatalog } from '../../runtime/catalog-files/loader.ts';
import { formatIssue } from '../../runtime/errors.ts';
import { type AnnouncedVersion, summarise } from '../../runtime/federation/announce.ts';
import { PublishSummary } from '../../runtime/ports/federation.ts';

const counts = `
name: counts
format: csv
columns: [{ name: k }, { name: n, type: integer }]
geometry: { kind: none }
`;

/** A product folder reading `inputs` (YAML flow text) and making one table `out`. */
const product = (name: string, inputs: string): Record<string, string> => ({
  [`products/${name}/product.yaml`]: `name: ${name}\ninputs: ${inputs}\noutputs: [{ table: out }]\n`,
  [`products/${name}/010_out.sql`]: 'CREATE TABLE out AS SELECT 1 AS k;',
});

async function load(files: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'strata-graph-'));
  for (const [path, text] of Object.entries({ 'datasets/counts.yaml': counts, ...files })) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  const { catalog, issues } = await loadCatalog(dir);
  return { catalog, problems: issues.map(formatIssue) };
}

/** Products as the graph functions take them: name → inputs. */
const graph = (edges: Record<string, string[]>) =>
  new Map(
    Object.entries(edges).map(([name, reads]) => [
      name,
      {
        product: {
          name,
          inputs: Object.fromEntries(
            reads.map((r) => [
              r,
              r === 'counts'
                ? { dataset: r, version: 'latest' }
                : { product: r, output: 'out', version: 'latest' },
            ]),
          ),
        } as Pick<Product, 'name' | 'inputs'>,
      },
    ]),
  );

describe('the graph of products', () => {
  it('refuses products that read each other round a loop, naming the loop at each input that closes it', async () => {
    // Prepare
    const files = {
      ...product('a', '{ c: counts, up: { product: b, output: out } }'),
      ...product('b', '{ up: { product: a, output: out } }'),
      ...product('c', '{ up: { product: b, output: out } }'),
    };
    // Act
    const { catalog, problems } = await load(files);
    // Assess
    expect(problems).toEqual([
      'products/a/product.yaml:2:26: inputs.up: products read each other round a loop: a → b → a',
      'products/b/product.yaml:2:15: inputs.up: products read each other round a loop: a → b → a',
    ]);
    // c is fine itself but reads the loop: it is held back with the loop's problems.
    expect([...catalog.products.keys()]).toEqual([]);
    expect(catalog.unusable?.products.get('c')?.map((i) => i.subject?.name)).toEqual(['b']);
  });

  it('refuses an input naming a product or an output that does not exist, with the names it may have meant', async () => {
    const { problems } = await load({
      ...product('base', '{ c: counts }'),
      ...product('x', '{ t: { product: base, output: outt } }'),
      ...product('y', '{ t: { product: bse, output: out } }'),
    });
    expect(problems).toEqual([
      'products/x/product.yaml:2:39: inputs.t.output: product "base" has no output "outt"; did you mean "out"?',
      'products/y/product.yaml:2:25: inputs.t.product: unknown product "bse"; did you mean "base"?',
    ]);
  });

  it('loads a diamond and orders it: each product after everything it reads', async () => {
    const { catalog, problems } = await load({
      ...product('base', '{ c: counts }'),
      ...product('left', '{ t: { product: base, output: out } }'),
      ...product('right', '{ t: { product: base, output: out, version: 20260101T000000000Z-abcdef12 } }'),
      ...product('top', '{ l: { product: left, output: out }, r: { product: right, output: out } }'),
    });
    expect(problems).toEqual([]);
    expect(downstreamOf(catalog.products, { kind: 'dataset', name: 'counts' })).toEqual([
      'base',
      'left',
      'right',
      'top',
    ]);
    expect(downstreamOf(catalog.products, { kind: 'product', name: 'base' })).toEqual([
      'left',
      'right',
      'top',
    ]);
    // A pinned version does not move with its upstream: only `latest` readers follow it.
    expect(downstreamOf(catalog.products, { kind: 'product', name: 'base' }, true)).toEqual(['left', 'top']);
    expect(upstreamOf(catalog.products, 'top')).toEqual(['base', 'left', 'right']);
  });

  it('orders by what reads what, not by name', () => {
    const g = graph({ z: ['counts'], m: ['z'], a: ['m', 'z'] });
    expect(topologicalOrder(g, ['a', 'm', 'z'])).toEqual(['z', 'm', 'a']);
    expect(findCycles(g)).toEqual([]);
    expect(findCycles(graph({ a: ['c'], b: ['a'], c: ['b'], d: ['d'] }))).toEqual([
      ['a', 'b', 'c', 'a'],
      ['d', 'd'],
    ]);
  });

  it("carries a version's upstream product versions in its federation summary, and none for datasets only", () => {
    const catalog = { dir: '.', datasets: new Map(), products: new Map() };
    const base: Omit<AnnouncedVersion, 'inputs'> = {
      product: 'top',
      version: 'v2',
      runId: 'r',
      outputs: [{ name: 'o', rows: 1 }],
      checks: [],
    };
    const manifest = { key: 'products/top/v2/manifest.json', sha256: 'a'.repeat(64) };
    const at = new Date('2026-12-07T00:00:00Z');
    const withUpstream = summarise(
      'child-a',
      {
        ...base,
        // A dataset's line of the lock has no `product`.
        inputs: [{ version: 'd1' }, { product: 'left', output: 'l', version: 'v1' }],
      },
      manifest,
      catalog,
      at,
    );
    expect(PublishSummary.parse(withUpstream).upstream).toEqual([
      { product: 'left', output: 'l', version: 'v1' },
    ]);
    const datasetsOnly = summarise(
      'child-a',
      { ...base, inputs: [{ version: 'd1' }] },
      manifest,
      catalog,
      at,
    );
    expect('upstream' in datasetsOnly).toBe(false);
  });
});
