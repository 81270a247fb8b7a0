import { html } from 'hono/html';
import type { RunStatus } from '../../runs/schema.ts';
import { badge, statusBadge, type Tone } from '../../web/format.ts';
import type { View } from '../../web/pages.ts';
import { layoutGraph } from '../graph-layout.ts';
import { type Html, to } from '../layout.ts';

/** A dataset or a product, as the lineage graph draws it. */
export interface GraphNode {
  /** `dataset:<name>` or `product:<name>`: a dataset and a product may share a name. */
  readonly id: string;
  readonly kind: 'dataset' | 'product';
  readonly name: string;
  /** Its current (dataset) or latest published (product) version. */
  readonly version?: string;
  /** How fresh it is, in words, and the tone its box is drawn in. */
  readonly state: { readonly label: string; readonly tone: Tone };
  /** Its last run, when the database could be asked. */
  readonly run?: { readonly id: string; readonly status: RunStatus };
}

/** An input: `to` reads `from` under the name `input`, at `version` (`latest` or a pinned one). */
export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly input: string;
  readonly version: string;
}

export interface LineageGraph {
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  /** Why the last runs are not shown, when they are not (the database is waking, or unreachable). */
  readonly runsUnavailable?: string;
}

const BOX = { width: 196, height: 66 };
const GAP = { column: 72, row: 20 };
const MARGIN = 12;
/** Characters of a name that fit the box at the drawing's font; longer ones end in an ellipsis. */
const NAME_FITS = 24;

const short = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const href = (v: View, n: GraphNode) => to(v, `/${n.kind === 'dataset' ? 'datasets' : 'products'}/${n.name}`);
/** What a screen reader says of a box: everything the box shows, in words. */
const spoken = (n: GraphNode) =>
  `${n.name}, ${n.kind}, ${n.state.label}${n.run ? `, last run ${n.run.status}` : ''}${n.version ? `, version ${n.version}` : ''}`;

/**
 * The graph as an SVG of its own in the page (no script, no request; colours from the console's stylesheet,
 * which the CSP allows by hash): datasets and products as boxes linking to their pages, inputs as arrows
 * from what is read to what reads it. The colour repeats what the words in each box say.
 */
function drawing(v: View, g: LineageGraph): Html {
  const ids = g.nodes.map((n) => n.id);
  const placed = layoutGraph(
    ids,
    g.edges.map((e) => ({ from: e.from, to: e.to })),
  );
  const x = (id: string) => MARGIN + placed.get(id)!.layer * (BOX.width + GAP.column);
  const y = (id: string) => MARGIN + placed.get(id)!.row * (BOX.height + GAP.row);
  const columns = Math.max(1, ...[...placed.values()].map((p) => p.layer + 1));
  const rows = Math.max(1, ...[...placed.values()].map((p) => p.row + 1));
  const width = 2 * MARGIN + columns * BOX.width + (columns - 1) * GAP.column;
  const height = 2 * MARGIN + rows * BOX.height + (rows - 1) * GAP.row;
  const known = new Set(ids);
  const edges = g.edges.filter((e) => known.has(e.from) && known.has(e.to));
  return html`<svg class="graph" id="lineage-graph" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="group" aria-labelledby="graph-title">
<title id="graph-title">Lineage: ${g.nodes.length} datasets and products, ${edges.length} inputs</title>
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" class="g-arrow"/></marker></defs>
${edges.map((e) => {
  const [x1, y1] = [x(e.from) + BOX.width, y(e.from) + BOX.height / 2];
  const [x2, y2] = [x(e.to), y(e.to) + BOX.height / 2];
  const bend = (x2 - x1) / 2;
  return html`<path class="g-edge${e.version === 'latest' ? '' : ' g-pinned'}" d="M${x1} ${y1}C${x1 + bend} ${y1} ${x2 - bend} ${y2} ${x2 - 2} ${y2}" marker-end="url(#arrow)" data-from="${e.from}" data-to="${e.to}"><title>${e.to.replace(/^\w+:/, '')} reads ${e.from.replace(/^\w+:/, '')} as ${e.input} at ${e.version}</title></path>`;
})}
${g.nodes.map(
  (
    n,
  ) => html`<a href="${href(v, n)}" class="g-node g-${n.state.tone}${n.run?.status === 'failed' ? ' g-failed' : ''}" data-node="${n.id}" aria-label="${spoken(n)}">
<rect x="${x(n.id)}" y="${y(n.id)}" width="${BOX.width}" height="${BOX.height}" rx="${n.kind === 'dataset' ? 14 : 4}"/>
<text x="${x(n.id) + 10}" y="${y(n.id) + 20}" class="g-name">${short(n.name, NAME_FITS)}</text>
<text x="${x(n.id) + 10}" y="${y(n.id) + 38}" class="g-detail">${n.kind} · ${n.state.label}</text>
<text x="${x(n.id) + 10}" y="${y(n.id) + 56}" class="g-detail">${n.run ? `last run ${n.run.status}` : n.version ? `version ${n.version.slice(0, 15)}` : ''}</text>
</a>`,
)}
</svg>`;
}

/** The same graph as a table: what each node reads and what reads it, for reading and for screen readers. */
function table(v: View, g: LineageGraph): Html {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const link = (id: string) => {
    const n = byId.get(id);
    return n ? html`<a href="${href(v, n)}">${n.name}</a>` : html`${id}`;
  };
  const list = (items: Html[]) =>
    items.length === 0
      ? html`<span class="muted">—</span>`
      : html`${items.map((h, i) => html`${i > 0 ? ', ' : ''}${h}`)}`;
  return html`<div class="table-wrap"><table id="lineage-table">
<caption>Datasets and products, what each reads and what reads it</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Reads</th><th scope="col">Read by</th><th scope="col">Freshness</th><th scope="col">Last run</th></tr></thead>
<tbody>${g.nodes.map(
    (n) => html`<tr><th scope="row">${link(n.id)}</th><td>${n.kind}</td>
<td>${list(g.edges.filter((e) => e.to === n.id).map((e) => html`${link(e.from)} <span class="muted">as ${e.input} at <code>${e.version}</code></span>`))}</td>
<td>${list(g.edges.filter((e) => e.from === n.id).map((e) => link(e.to)))}</td>
<td>${badge(n.state.label, n.state.tone)}</td>
<td>${n.run ? html`<a href="${to(v, `/runs/${n.run.id}`)}">${statusBadge(n.run.status)}</a>` : html`<span class="muted">—</span>`}</td></tr>`,
  )}</tbody></table></div>`;
}

export function graphPage(v: View, g: LineageGraph): Html {
  return html`<h1>Lineage</h1>
<p>What each product reads, from the datasets on the left to what is built from them on the right. A box's colour is its freshness (a product is never fresher than a product it reads), a dashed red outline a last run that failed; each box opens its page.</p>
${g.runsUnavailable ? html`<div class="notice" role="status">${g.runsUnavailable}</div>` : ''}
<ul class="legend" aria-label="What the colours say">
<li><span class="swatch g-ok" aria-hidden="true"></span>on time, or a dataset with a current version</li>
<li><span class="swatch g-bad" aria-hidden="true"></span>late</li>
<li><span class="swatch g-warn" aria-hidden="true"></span>never published, or no version yet</li>
<li><span class="swatch g-neutral" aria-hidden="true"></span>no schedule</li>
<li><span class="swatch g-failed" aria-hidden="true"></span>last run failed</li>
</ul>
${g.nodes.length === 0 ? html`<p>The catalog has no datasets or products yet.</p>` : html`<div class="graph-wrap">${drawing(v, g)}</div>`}
<h2>As a table</h2>
${table(v, g)}`;
}
