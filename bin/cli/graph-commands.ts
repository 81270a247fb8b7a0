import type { Command } from 'commander';
import type { NodeRef } from '../../runtime/catalog/graph.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { buildGraph, type GraphStep } from '../../runtime/jobs/build-graph.ts';
import type { Platform } from '../../runtime/platform/platform.ts';
import { type LineageGraph, lineageGraph } from '../../runtime/products/graph.ts';
import type { Trigger } from '../../runtime/runs/schema.ts';
import type { JobHooks } from '../../runtime/runs/steps.ts';
import { type Action, type GlobalOptions, withPlatform } from './context.ts';
import { EXIT, printJson, say } from './output.ts';

/** One line for what became of a product in a graph build. */
function stepText(s: GraphStep): string {
  if (s.status === 'skipped') return `  ${s.product}: ${s.reason}`;
  if (s.status === 'built')
    return `  ${s.product}: ${s.run.result?.upToDate ? 'up to date' : `published version ${String(s.run.result?.version)}`} (run ${s.run.id})`;
  return `  ${s.product}: FAILED (run ${s.run.id}): ${String(s.run.error?.message ?? 'unknown error')}`;
}

/**
 * `strata build <product> --downstream|--upstream`: the product and the part of the graph after (or
 * before) it, in build order. Returns the exit code: failed when any build failed.
 */
export async function buildGraphAndReport(
  p: Platform,
  catalog: Catalog,
  product: string,
  o: { direction: 'downstream' | 'upstream'; trigger: Trigger; json: boolean; hooks: JobHooks },
): Promise<number> {
  const steps = await buildGraph(p, catalog, product, {
    direction: o.direction,
    trigger: o.trigger,
    hooks: o.hooks,
    onBuild: (name, run) => {
      if (!o.json) say(`building ${name} (run ${run.id})`);
    },
  });
  // A product not built for a failure upstream is told as skipped; the failure is what fails the command.
  const ok = steps.every((s) => s.status !== 'failed');
  if (o.json)
    printJson({
      ok,
      direction: o.direction,
      steps: steps.map((s) =>
        s.status === 'skipped' ? s : { product: s.product, status: s.status, run: s.run },
      ),
    });
  else {
    say(`${o.direction} of ${product}, in build order:`);
    for (const s of steps) say(stepText(s));
  }
  return ok ? EXIT.ok : EXIT.failed;
}

/** The graph as text: each node in build order with its version and state, and what it reads. */
function printGraph(graph: LineageGraph, focus: string): void {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const reads = new Map<string, string[]>();
  for (const e of graph.edges) {
    const from = e.from.replace(/^\w+:/, '');
    const what = e.output ? `${from}/${e.output}` : from;
    const read = e.read ? ` (read ${e.read})` : '';
    reads.set(e.to, [...(reads.get(e.to) ?? []), `${e.alias} = ${what}@${e.requested}${read}`]);
  }
  for (const n of graph.nodes) {
    const mark = n.id === focus ? '*' : ' ';
    const run = n.lastRun ? `  last ${n.kind === 'dataset' ? 'ingest' : 'build'} ${n.lastRun.status}` : '';
    out(
      `${mark} ${n.kind.padEnd(7)} ${n.name.padEnd(24)} ${(n.version ?? '-').padEnd(28)} ${n.state}${n.reason ? ` (${n.reason})` : ''}${run}`,
    );
    for (const r of reads.get(n.id) ?? []) out(`      reads ${r}`);
  }
}

export function registerLineageCommand(program: Command, globals: () => GlobalOptions, action: Action): void {
  program
    .command('lineage')
    .description(
      'the graph around a product or dataset: what it reads and what reads it, in build order, with versions, freshness and last runs',
    )
    .argument('<name>', 'a product or dataset (a product when both have the name, unless --dataset)')
    .option('--dataset', 'name a dataset, where a product has the same name')
    .action(
      action(async (name: string, o: { dataset?: boolean }) => {
        const g = globals();
        return withPlatform(g, async (p, catalog) => {
          const kind = !o.dataset && catalog.products.has(name) ? 'product' : 'dataset';
          if (kind === 'dataset' && !catalog.datasets.has(name)) {
            say(`error: "${name}" is neither a product nor a dataset of the catalog`);
            return EXIT.notFound;
          }
          const node: NodeRef = { kind, name };
          const graph = await lineageGraph(p.db, p.store, catalog, node);
          if (g.json) printJson({ node, ...graph });
          else printGraph(graph, `${kind}:${name}`);
          return EXIT.ok;
        });
      }),
    );
}
