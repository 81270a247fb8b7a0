import { html, raw } from 'hono/html';
import type { Receipt } from '../../archive/receipt.ts';
import type { Dataset } from '../../catalog/schema.ts';
import { flatgeobufOutputs, type Manifest } from '../../publish/manifest.ts';
import { count } from '../../qa/format.ts';
import type { Run } from '../../runs/schema.ts';
import { badge, bytes, type Html, statusBadge, when } from '../../web/format.ts';
import type { View } from '../../web/pages.ts';
import { receiptView } from '../../web/receipt-html.ts';
import { formField, to } from '../layout.ts';

/** The partner's datasets (those it may send to) and products (those it may read), as two short lists. */
export function homePage(v: View, datasets: readonly Dataset[], products: readonly ProductSummary[]): Html {
  return html`<h1>Your data <span class="sub">What ${v.principal?.partner} may send and download</span></h1>
<h2>Send data</h2>
${datasets.length === 0 ? html`<p class="muted">Your organisation sends no datasets here.</p>` : datasetList(v, datasets)}
<h2>Download</h2>
${products.length === 0 ? html`<p class="muted">Your organisation may read no data products here.</p>` : productList(v, products)}`;
}

/** The datasets the partner may send to, as a page. */
export const sendPage = (v: View, datasets: readonly Dataset[]): Html =>
  html`<h1>Send data</h1>${datasets.length > 0 ? datasetList(v, datasets) : html`<p class="muted">Your organisation sends no datasets here.</p>`}`;

/** The products the partner may read, as a page. */
export const downloadPage = (v: View, products: readonly ProductSummary[]): Html =>
  html`<h1>Download</h1>${products.length > 0 ? productList(v, products) : html`<p class="muted">Your organisation may read no data products here.</p>`}`;

export function datasetList(v: View, datasets: readonly Dataset[]): Html {
  return html`<ul class="links">${datasets.map(
    (d) =>
      html`<li><a href="${to(v, `/datasets/${d.name}`)}">${d.title ?? d.name}</a> <span class="muted">(${d.format})</span></li>`,
  )}</ul>`;
}

export interface ProductSummary {
  readonly name: string;
  readonly title?: string;
  readonly latest?: string;
}

export function productList(v: View, products: readonly ProductSummary[]): Html {
  return html`<ul class="links">${products.map(
    (p) =>
      html`<li><a href="${to(v, `/products/${p.name}`)}">${p.title ?? p.name}</a> <span class="muted">${p.latest ? html`(latest <code>${p.latest}</code>)` : '(nothing published yet)'}</span></li>`,
  )}</ul>`;
}

/** The receipt of a run that has one: accepted, or refused with every problem and its lines. */
const receiptOf = (run: Run) => (run.result?.receipt ?? run.error?.receipt) as Receipt | undefined;

/**
 * What became of an upload, as its sender reads it: the receipt's word once there is one (a refused file's
 * run fails, but for the partner the file was received and quarantined, not lost), else the run's status.
 */
function uploadStatus(run: Run, r: Receipt | undefined): Html {
  if (r?.status === 'accepted') return badge('accepted', 'ok');
  if (r?.status === 'quarantined') return badge('quarantined', 'warn');
  if (r?.status === 'refused') return badge('refused', 'bad');
  return statusBadge(run.status);
}

/** One dataset: the upload form (sent straight to the bucket by the page's script) and the past uploads. */
export function datasetPage(
  v: View,
  d: Dataset,
  maxBytes: number,
  uploads: readonly { uploadId: string; run: Run }[],
): Html {
  return html`<h1>${d.title ?? d.name} <span class="sub">Dataset <code>${d.name}</code>, ${d.format}</span></h1>
${d.description ? html`<p>${d.description}</p>` : ''}
<h2>Send a file</h2>
<form id="upload" method="post" action="${to(v, `/datasets/${d.name}/uploads`)}" enctype="multipart/form-data">
${formField(v)}
<div class="drop"><label for="file">The file (${d.format}, up to ${bytes(maxBytes)}), chosen or dropped here</label>
<input type="file" id="file" name="file" required></div>
<button type="submit">Send</button>
</form>
<progress id="upload-progress" hidden value="0" max="1" aria-label="Sent so far"></progress>
<div id="upload-status" class="notice" role="status" hidden></div>
<p class="muted">The file goes straight to the data store; its receipt appears here once it has been checked.</p>
<h2>Columns it takes</h2>
<div class="table-wrap"><table><caption>Columns of ${d.name}</caption>
<thead><tr><th scope="col">Column</th><th scope="col">Type</th><th scope="col">Required</th><th scope="col">About</th></tr></thead>
<tbody>${d.columns.map((c) => html`<tr><th scope="row"><code>${c.name}</code></th><td>${c.type}</td><td>${c.required ? 'yes' : 'no'}</td><td>${c.description ?? ''}</td></tr>`)}</tbody></table></div>
<h2>Past uploads</h2>
${uploads.length === 0 ? html`<p class="muted">Nothing sent yet.</p>` : uploadsTable(v, d.name, uploads)}`;
}

function uploadsTable(v: View, dataset: string, uploads: readonly { uploadId: string; run: Run }[]): Html {
  return html`<div class="table-wrap"><table><caption>Your uploads to ${dataset}, newest first</caption>
<thead><tr><th scope="col">File</th><th scope="col">Sent</th><th scope="col">Status</th><th scope="col">Receipt</th></tr></thead>
<tbody>${uploads.map(({ uploadId, run }) => {
    const r = receiptOf(run);
    return html`<tr><th scope="row"><a href="${to(v, `/datasets/${dataset}/uploads/${uploadId}`)}">${(r?.file.filename ?? uploadId).replace(/^u[0-9a-f]{12}-/, '')}</a></th>
<td>${when(run.createdAt)}</td><td>${uploadStatus(run, r)}</td>
<td>${r ? (r.status === 'accepted' ? html`version <code>${r.version}</code>, ${count(r.rows ?? 0)} rows` : html`${r.status}: ${r.problems.length} kind(s) of problem`) : html`<span class="muted">—</span>`}</td></tr>`;
  })}</tbody></table></div>`;
}

/** One upload: waiting for its ingest, under way, or ended with its receipt (the page follows it). */
export function uploadPage(v: View, dataset: string, uploadId: string, run: Run | undefined): Html {
  const status = run?.status ?? 'waiting';
  const r = run ? receiptOf(run) : undefined;
  return html`<h1>Upload <span class="sub">to <a href="${to(v, `/datasets/${dataset}`)}">${dataset}</a>: <code>${uploadId}</code></span></h1>
<p data-watch-status="${status}"${run ? html` data-run="${run.id}"` : ''}>Status: ${run ? uploadStatus(run, r) : html`<span class="badge neutral">waiting</span>`}
${status === 'waiting' ? ' The file is in; it is checked as soon as it is picked up.' : ''}
${status === 'queued' || status === 'running' ? ' It is being checked now.' : ''}</p>
${r ? html`<h2>Receipt</h2>${receiptView(r)}` : ''}
${run && !r && run.error ? html`<div class="notice bad" role="alert">${String((run.error as { message?: unknown }).message ?? 'the ingest failed')}</div>` : ''}
<p><a href="${to(v, `/datasets/${dataset}`)}">Back to ${dataset}</a></p>`;
}

/** One product: the OGC API address for QGIS, and each version's files in every format. */
export function productPage(
  v: View,
  name: string,
  title: string | undefined,
  api: string,
  manifests: readonly (Manifest & { latest: boolean })[],
): Html {
  const collections = [...new Set(manifests.flatMap((m) => flatgeobufOutputs(m).map((o) => o.name)))];
  return html`<h1>${title ?? name} <span class="sub">Data product <code>${name}</code></span></h1>
<h2>In QGIS or a script</h2>
<p>Add a connection in QGIS (<em>Layer › Add Layer › Add WFS / OGC API – Features Layer</em>) with this address, and your API key as the password of Basic authentication:</p>
${copyable('ogc-api', api)}
${collections.length > 0 ? html`<p>Its collections: ${collections.map((c, i) => html`${i > 0 ? ', ' : ''}<code>${name}.${c}</code>`)} (the latest version; add <code>.&lt;version&gt;</code> for one version).</p>` : ''}
<h2>Versions</h2>
${manifests.length === 0 ? html`<p class="muted">Nothing published yet.</p>` : manifests.map((m) => versionCard(v, name, m))}`;
}

function copyable(id: string, text: string): Html {
  return html`<div class="copy"><code id="${id}">${text}</code><button type="button" class="small quiet" data-copy="${id}" hidden>Copy<span class="vh"> the address</span></button></div>`;
}

function versionCard(v: View, product: string, m: Manifest & { latest: boolean }): Html {
  return html`<section class="card" aria-labelledby="v-${m.version}"><h3 id="v-${m.version}"><code>${m.version}</code>${m.latest ? raw(' <span class="badge info">latest</span>') : ''}</h3>
<p class="muted">Built ${when(m.builtAt)}${m.qa ? html` · <a href="${to(v, `/products/${product}/versions/${m.version}/map`)}">On a map, with its changes<span class="vh"> (${product} ${m.version})</span></a>` : ''}</p>
<div class="table-wrap"><table><caption>Files of ${product} ${m.version}</caption>
<thead><tr><th scope="col">Output</th><th scope="col">Format</th><th scope="col" class="num">Rows</th><th scope="col" class="num">Size</th><th scope="col">Download</th></tr></thead>
<tbody>${m.outputs.map(
    (
      o,
    ) => html`<tr><th scope="row">${o.name}</th><td>${o.format}</td><td class="num">${count(o.rows)}</td><td class="num">${bytes(o.size)}</td>
<td><a href="${to(v, `/products/${product}/versions/${m.version}/outputs/${o.name}?format=${o.format}`)}" download>${o.name}.${o.format}<span class="vh"> of ${product} ${m.version}</span></a></td></tr>`,
  )}</tbody></table></div></section>`;
}
