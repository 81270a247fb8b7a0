import { html } from 'hono/html';
import { isUpstreamInput, type ProductEntry } from '../../catalog/schema.ts';
import type { LatestPointer, Manifest } from '../../publish/manifest.ts';
import { count } from '../../qa/format.ts';
import { badge, bytes, span, when } from '../../web/format.ts';
import type { View } from '../../web/pages.ts';
import type { Html } from '../layout.ts';
import { to } from '../layout.ts';
import type { Freshness } from '../reads.ts';

const none = html`<span class="muted">—</span>`;

export interface ProductRow {
  readonly entry: ProductEntry;
  readonly latest: LatestPointer | undefined;
  readonly freshness: Freshness;
  readonly versions: number;
  readonly manifest: Manifest | undefined;
}

/** The tone a freshness is shown in: the badge's, and the lineage graph's box. */
export const FRESH_TONE = {
  'on time': 'ok',
  late: 'bad',
  'no schedule': 'neutral',
  'never published': 'warn',
} as const;

export function freshnessBadge(f: Freshness): Html {
  return badge(f.state, FRESH_TONE[f.state]);
}

/** What a version's checks said: `7 passed`, `2 warned`, `1 failed`. */
export function checksOf(m: Manifest): Html {
  const passed = m.checks.filter((c) => c.passed).length;
  const warned = m.checks.filter((c) => !c.passed && c.severity === 'warn').length;
  const failed = m.checks.filter((c) => !c.passed && c.severity === 'error').length;
  if (m.checks.length === 0) return html`<span class="muted">no checks</span>`;
  return html`${badge(`${passed} passed`, 'ok')}${warned > 0 ? html` ${badge(`${warned} warned`, 'warn')}` : ''}${failed > 0 ? html` ${badge(`${failed} failed`, 'bad')}` : ''}`;
}

const scheduleText = (schedule: string | undefined, f: Freshness) =>
  schedule
    ? html`<code>${schedule}</code>${f.periodSeconds ? html` <span class="muted">(at most ${span(f.periodSeconds * 1000)} apart)</span>` : ''}`
    : html`<span class="muted">none</span>`;

/** Each product's latest version against its schedule, as the core judges its children. */
export function freshnessTable(v: View, rows: readonly ProductRow[]): Html {
  return html`<div class="table-wrap"><table id="freshness">
<caption>Freshness: each product's latest version against its schedule (late once its longest gap and an hour have passed)</caption>
<thead><tr><th scope="col">Product</th><th scope="col">Freshness</th><th scope="col">Latest version</th><th scope="col">Published</th><th scope="col">Age</th><th scope="col">Schedule</th></tr></thead>
<tbody>${rows.map(
    (
      r,
    ) => html`<tr><th scope="row"><a href="${to(v, `/products/${r.entry.product.name}`)}">${r.entry.product.name}</a></th>
<td>${freshnessBadge(r.freshness)}</td>
<td>${r.latest ? html`<code>${r.latest.version}</code>` : none}</td>
<td>${r.latest ? when(r.latest.publishedAt) : none}</td>
<td>${r.freshness.ageSeconds !== null ? span(r.freshness.ageSeconds * 1000) : none}</td>
<td>${scheduleText(r.entry.product.schedule, r.freshness)}</td></tr>`,
  )}</tbody></table></div>`;
}

export function productsPage(v: View, rows: readonly ProductRow[]): Html {
  return html`<h1>Products</h1>
<p>Each build that passes its checks is published as a new version, with its QA report beside it.</p>
<div class="table-wrap"><table>
<caption>Products and their latest published version</caption>
<thead><tr><th scope="col">Product</th><th scope="col">Latest version</th><th scope="col">Published</th><th scope="col">Checks of the latest</th><th scope="col" class="num">Versions</th><th scope="col">Freshness</th></tr></thead>
<tbody>${rows.map(
    (
      r,
    ) => html`<tr><th scope="row"><a href="${to(v, `/products/${r.entry.product.name}`)}">${r.entry.product.name}</a>${r.entry.product.title ? html`<div class="muted">${r.entry.product.title}</div>` : ''}</th>
<td>${r.latest ? html`<code>${r.latest.version}</code>` : html`<span class="muted">never published</span>`}</td>
<td>${r.latest ? when(r.latest.publishedAt) : none}</td>
<td>${r.manifest ? checksOf(r.manifest) : none}</td>
<td class="num">${count(r.versions)}</td>
<td>${freshnessBadge(r.freshness)}</td></tr>`,
  )}</tbody></table></div>`;
}

/** `+3 −2, 6 changed` for each output the QA report compared with the previous version. */
function changesOf(m: Manifest): Html {
  const outputs = m.qa?.outputs ?? [];
  if (outputs.length === 0)
    return html`${m.outputs
      .filter((o, i, all) => all.findIndex((x) => x.name === o.name) === i)
      .map((o) => html`<div>${o.name}: ${count(o.rows)} rows</div>`)}`;
  return html`${outputs.map((o) => {
    const parts = [
      o.added !== null ? `+${count(o.added)}` : '',
      o.removed !== null ? `\u2212${count(o.removed)}` : '',
      o.changed !== null ? `${count(o.changed)} changed` : '',
    ].filter(Boolean);
    return html`<div><span class="nowrap">${o.name}: ${count(o.rows)} rows</span>${m.qa?.previous && parts.length > 0 ? html` <span class="muted nowrap">(${parts.join(', ')})</span>` : ''}</div>`;
  })}`;
}

const FORMAT_TEXT: Record<string, string> = { flatgeobuf: 'fgb', geoparquet: 'parquet', shapefile: 'shp' };

function downloadsOf(v: View, m: Manifest): Html {
  const names = [...new Set(m.outputs.map((o) => o.name))];
  return html`<ul class="links">${names.map(
    (name) =>
      html`<li><span class="nowrap">${name}:</span> ${m.outputs
        .filter((o) => o.name === name)
        .map(
          (o, i) =>
            html`${i > 0 ? html`<span class="sep" aria-hidden="true">·</span>` : ''}<a class="nowrap" href="${to(v, `/products/${m.product}/versions/${m.version}/outputs/${o.name}?format=${o.format}`)}" title="${bytes(o.size)}">${FORMAT_TEXT[o.format] ?? o.format}<span class="vh"> of ${o.name}, version ${m.version}, ${bytes(o.size)}</span></a>`,
        )}</li>`,
  )}</ul>`;
}

export function productPage(
  v: View,
  row: ProductRow,
  manifests: readonly (Manifest & { latest: boolean })[],
): Html {
  const p = row.entry.product;
  return html`<h1>${p.name}${p.title ? html`<span class="sub">${p.title}</span>` : ''}</h1>
${p.description ? html`<p>${p.description}</p>` : ''}
<dl class="facts">
<dt>Freshness</dt><dd>${freshnessBadge(row.freshness)}${row.freshness.ageSeconds !== null ? html` latest version ${span(row.freshness.ageSeconds * 1000)} old` : ''}</dd>
<dt>Schedule</dt><dd>${scheduleText(p.schedule, row.freshness)}</dd>
<dt>Latest version</dt><dd>${row.latest ? html`<code>${row.latest.version}</code>, published ${when(row.latest.publishedAt)}` : 'none yet'}</dd>
<dt>Reads</dt><dd>${Object.values(p.inputs).map((input, i) => html`${i > 0 ? ', ' : ''}${isUpstreamInput(input) ? html`<a href="${to(v, `/products/${input.product}`)}">${input.product}</a> (${input.output})` : html`<a href="${to(v, `/datasets/${input.dataset}`)}">${input.dataset}</a>`} at <code>${input.version}</code>`)}</dd>
</dl>
<h2>Versions</h2>
${
  manifests.length === 0
    ? html`<p>No version published yet. <a href="${to(v, `/runs?target=${p.name}`)}">Its runs</a> say why.</p>`
    : html`<div class="table-wrap"><table id="versions">
<caption>Published versions of ${p.name}, newest first; the latest is marked</caption>
<thead><tr><th scope="col">Version</th><th scope="col">Built</th><th scope="col">Checks</th><th scope="col">Rows and changes</th><th scope="col">QA report</th><th scope="col">Downloads</th></tr></thead>
<tbody>${manifests.map(
        (
          m,
        ) => html`<tr${m.latest ? html` class="current"` : ''}><th scope="row"><code>${m.version}</code>${m.latest ? html` ${badge('latest', 'info')}` : ''}
<div class="muted">run <a href="${to(v, `/runs/${m.runId}`)}"><code>${m.runId}</code></a></div></th>
<td>${when(m.builtAt)}</td><td>${checksOf(m)}</td><td>${changesOf(m)}</td>
<td>${m.qa ? html`<a href="${to(v, `/products/${m.product}/versions/${m.version}/qa`)}">QA report<span class="vh"> of version ${m.version}</span></a>` : none}</td>
<td>${downloadsOf(v, m)}</td></tr>`,
      )}</tbody></table></div>`
}`;
}
