import { isUpstreamInput, type Product } from './schema.ts';

/*
 * The graph the catalog's inputs make: datasets and products are nodes, each input an edge from what it reads
 * to the product that reads it. Pure: it knows the catalog's documents, nothing of what was built.
 */

type Products = ReadonlyMap<string, { readonly product: Pick<Product, 'name' | 'inputs'> }>;

/** What a graph node is: a dataset or a product, by name (the two may share a name). */
export interface NodeRef {
  readonly kind: 'dataset' | 'product';
  readonly name: string;
}

export const nodeId = (n: NodeRef): string => `${n.kind}:${n.name}`;

/** The node an input reads: a dataset, or the product whose output it names. */
export const inputNode = (i: Product['inputs'][string]): NodeRef =>
  isUpstreamInput(i) ? { kind: 'product', name: i.product } : { kind: 'dataset', name: i.dataset };

/** The products a product reads an output of, each once, in the order its inputs name them. */
export function upstreamProducts(product: Pick<Product, 'inputs'>): string[] {
  const names = Object.values(product.inputs).flatMap((i) => (isUpstreamInput(i) ? [i.product] : []));
  return [...new Set(names)];
}

/** Whether a product reads `node` (at any version, or only at `latest` with `latestOnly`). */
export function reads(product: Pick<Product, 'inputs'>, node: NodeRef, latestOnly = false): boolean {
  return Object.values(product.inputs).some(
    (i) =>
      (!latestOnly || i.version === 'latest') &&
      (node.kind === 'product'
        ? isUpstreamInput(i) && i.product === node.name
        : !isUpstreamInput(i) && i.dataset === node.name),
  );
}

/**
 * Every cycle of products reading each other, each named from its alphabetically first product and closed
 * on it (`a → b → a`), each once. Products outside `products` (unknown names) end no path.
 */
export function findCycles(products: Products): string[][] {
  const cycles = new Map<string, string[]>();
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): void => {
    state.set(name, 'open');
    path.push(name);
    for (const next of upstreamProducts(products.get(name)!.product)) {
      if (!products.has(next)) continue;
      if (state.get(next) === 'open') {
        const loop = path.slice(path.indexOf(next));
        // Read the loop in the direction data flows (upstream → downstream), from its first name.
        const flow = [...loop].reverse();
        const first = flow.indexOf([...flow].sort()[0]!);
        const named = [...flow.slice(first), ...flow.slice(0, first)];
        cycles.set([...named].sort().join(','), [...named, named[0]!]);
      } else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(name, 'done');
  };
  for (const name of [...products.keys()].sort()) if (!state.has(name)) visit(name);
  return [...cycles.values()];
}

/** The products that read `name`'s outputs directly. */
export function directDependents(products: Products, node: NodeRef, latestOnly = false): string[] {
  return [...products.values()].filter((e) => reads(e.product, node, latestOnly)).map((e) => e.product.name);
}

/**
 * Every product downstream of `node` (what reads it, what reads those, ...), in an order where each comes
 * after every product it reads: the order to build them in. `node` itself is not in it.
 */
export function downstreamOf(products: Products, node: NodeRef, latestOnly = false): string[] {
  const seen = new Set<string>();
  const walk = (from: NodeRef) => {
    for (const name of directDependents(products, from, latestOnly))
      if (!seen.has(name)) {
        seen.add(name);
        walk({ kind: 'product', name });
      }
  };
  walk(node);
  return topologicalOrder(products, seen);
}

/** Every product `name` reads, directly or through others, in build order; `name` itself is not in it. */
export function upstreamOf(products: Products, name: string): string[] {
  const seen = new Set<string>();
  const walk = (from: string) => {
    const entry = products.get(from);
    if (!entry) return;
    for (const up of upstreamProducts(entry.product))
      if (!seen.has(up) && products.has(up)) {
        seen.add(up);
        walk(up);
      }
  };
  walk(name);
  return topologicalOrder(products, seen);
}

/**
 * `names` ordered so that each product comes after every product it reads (among `names`); the same
 * names give the same order on every run. The catalog refuses cycles, so there are none.
 */
export function topologicalOrder(products: Products, names: Iterable<string>): string[] {
  const wanted = new Set(names);
  const order: string[] = [];
  const placed = new Set<string>();
  const place = (name: string, stack: Set<string>) => {
    if (placed.has(name) || stack.has(name)) return;
    stack.add(name);
    const entry = products.get(name);
    if (entry) for (const up of upstreamProducts(entry.product).sort()) if (wanted.has(up)) place(up, stack);
    stack.delete(name);
    placed.add(name);
    order.push(name);
  };
  for (const name of [...wanted].sort()) place(name, new Set());
  return order;
}
