import { randomBytes } from 'node:crypto';
import { html } from 'hono/html';
import type { QuarantineEntry } from '../../archive/quarantine.ts';
import type { Dataset } from '../../catalog/schema.ts';
import { count } from '../../qa/format.ts';
import { actor, badge, bytes, sha, when } from '../../web/format.ts';
import type { View } from '../../web/pages.ts';
import { problemsTable } from '../../web/receipt-html.ts';
import { formField, type Html, to } from '../layout.ts';
import type { DatasetSummary, DatasetView } from '../reads.ts';

const none = html`<span class="muted">—</span>`;

const sourceOf = (d: Dataset) =>
  d.source.kind === 'http'
    ? `HTTP (${d.source.url})`
    : d.source.kind === 'partner'
      ? `partner ${d.source.partner}`
      : 'uploads';

export function datasetsTable(
  v: View,
  catalog: ReadonlyMap<string, Dataset>,
  rows: readonly DatasetSummary[],
): Html {
  return html`<div class="table-wrap"><table>
<caption>Datasets, with the version products read at <code>latest</code></caption>
<thead><tr><th scope="col">Dataset</th><th scope="col">Format</th><th scope="col">Source</th><th scope="col">Current version</th><th scope="col">Current since</th><th scope="col" class="num">Versions</th><th scope="col" class="num">In quarantine</th></tr></thead>
<tbody>${rows.map((r) => {
    const d = catalog.get(r.name)!;
    return html`<tr><th scope="row"><a href="${to(v, `/datasets/${r.name}`)}">${r.name}</a>${d.title ? html`<div class="muted">${d.title}</div>` : ''}</th>
<td>${d.format}</td><td>${sourceOf(d)}</td>
<td>${r.current ? html`<code>${r.current.version}</code>` : html`<span class="muted">none yet</span>`}</td>
<td>${r.current ? when(r.current.since) : none}</td>
<td class="num">${count(r.versions)}</td>
<td class="num">${r.quarantined > 0 ? html`<a href="${to(v, `/datasets/${r.name}#quarantine`)}">${badge(`${r.quarantined} waiting`, 'warn')}</a>` : '0'}</td></tr>`;
  })}</tbody></table></div>`;
}

export function datasetsPage(
  v: View,
  catalog: ReadonlyMap<string, Dataset>,
  rows: readonly DatasetSummary[],
): Html {
  return html`<h1>Datasets</h1>
<p>Each dataset keeps every version it was sent, for good; the <em>current</em> one is what products read at <code>latest</code>. Files a dataset's contract refused wait in quarantine until an operator releases them.</p>
${datasetsTable(v, catalog, rows)}`;
}

function versionsTable(d: DatasetView): Html {
  if (d.versions.length === 0) return html`<p>No version yet: nothing sent has passed the contract.</p>`;
  return html`<div class="table-wrap"><table id="versions">
<caption>Versions of ${d.name}, newest first; the current one is marked</caption>
<thead><tr><th scope="col">Version</th><th scope="col">Received</th><th scope="col">File</th><th scope="col" class="num">Size</th><th scope="col">sha256</th><th scope="col">Came from</th></tr></thead>
<tbody>${d.versions.map((ver) => {
    const current = d.current?.version === ver.version;
    return html`<tr${current ? html` class="current"` : ''}><th scope="row"><code>${ver.version}</code>${current ? html` ${badge('current', 'info')}` : ''}</th>
<td>${when(ver.receivedAt)}</td><td>${ver.filename}</td><td class="num">${bytes(ver.size)}</td><td>${sha(ver.sha256)}</td>
<td>${ver.origin.kind}</td></tr>`;
  })}</tbody></table></div>`;
}

const EVENT_TEXT = {
  sent: 'sent',
  resent: 'sent again',
  promoted: 'promoted',
  released: 'released',
} as const;

function historyTable(v: View, d: DatasetView): Html {
  if (d.events.length === 0) return html`<p>The current version has never moved.</p>`;
  return html`<div class="table-wrap"><table id="history">
<caption>Every move of the current version of ${d.name}, newest first</caption>
<thead><tr><th scope="col">When</th><th scope="col">How</th><th scope="col">Became current</th><th scope="col">Was</th><th scope="col">By</th><th scope="col">Run</th><th scope="col">Reason</th></tr></thead>
<tbody>${d.events.map(
    (
      e,
    ) => html`<tr><td>${when(e.at, true)}</td><td>${EVENT_TEXT[e.kind]}</td><td><code>${e.version}</code></td>
<td>${e.previous ? html`<code>${e.previous}</code>` : none}</td><td>${actor(e.actor)}</td>
<td>${e.run ? html`<a href="${to(v, `/runs/${e.run}`)}"><code>${e.run}</code></a>` : none}</td><td>${e.reason ?? ''}</td></tr>`,
  )}</tbody></table></div>`;
}

function quarantined(v: View, e: QuarantineEntry): Html {
  const id = `q-${e.id}`;
  const f = e.file;
  return html`<section class="card" aria-labelledby="${id}">
<h3 id="${id}">${f.filename} <span class="muted">(<code>${e.dataset}/${e.id}</code>)</span></h3>
<dl class="facts">
<dt>Received</dt><dd>${when(f.receivedAt, true)} from ${actor(e.actor)}</dd>
<dt>Size</dt><dd>${bytes(f.size)}, sha256 ${sha(f.sha256)}</dd>
<dt>Run</dt><dd>${e.run ? html`<a href="${to(v, `/runs/${e.run}`)}"><code>${e.run}</code></a>` : none}</dd>
</dl>
${problemsTable(e.receipt, `What the contract found in ${f.filename}`)}
<form class="act" method="post" action="${to(v, `/datasets/${e.dataset}/quarantine/${e.id}/release`)}">
${formField(v)}<input type="hidden" name="request" value="${randomBytes(9).toString('base64url')}">
<div><label for="reason-${e.id}">Reason for releasing ${f.filename}</label>
<input class="wide" type="text" id="reason-${e.id}" name="reason" required maxlength="500" autocomplete="off" aria-describedby="release-help-${e.id}"></div>
<button type="submit">Release<span class="vh"> ${f.filename} (${e.id})</span></button>
<p id="release-help-${e.id}" class="muted">Releasing makes the file version <code>${e.id}</code>, loaded and current as if sent. Row-count, change, bbox and geometry rules are waived; column rules still hold. Recorded with your name and reason.</p>
</form>
</section>`;
}

function releasedTable(v: View, released: readonly QuarantineEntry[]): Html {
  if (released.length === 0) return html``;
  return html`<div class="table-wrap"><table>
<caption>Files released from quarantine, newest first</caption>
<thead><tr><th scope="col">File</th><th scope="col">Became version</th><th scope="col">Released</th><th scope="col">By</th><th scope="col">Reason</th><th scope="col">Run</th></tr></thead>
<tbody>${released.map(
    (
      e,
    ) => html`<tr><th scope="row" class="nowrap">${e.file.filename}</th><td><code>${e.release!.version}</code></td><td>${when(e.release!.releasedAt)}</td>
<td>${actor(e.release!.actor)}</td><td>${e.release!.reason}</td>
<td>${e.release!.run ? html`<a href="${to(v, `/runs/${e.release!.run}`)}"><code>${e.release!.run}</code></a>` : none}</td></tr>`,
  )}</tbody></table></div>`;
}

export function datasetPage(v: View, dataset: Dataset, d: DatasetView): Html {
  const open = d.quarantine.filter((e) => !e.release);
  const released = d.quarantine.filter((e) => e.release);
  return html`<h1>${d.name}${dataset.title ? html`<span class="sub">${dataset.title}</span>` : ''}</h1>
<dl class="facts">
<dt>Format</dt><dd>${dataset.format}</dd>
<dt>Source</dt><dd>${sourceOf(dataset)}${dataset.schedule ? html`, on schedule <code>${dataset.schedule}</code>` : ''}</dd>
<dt>Current version</dt><dd>${d.current ? html`<code>${d.current.version}</code>, since ${when(d.current.since)}` : 'none yet'}</dd>
<dt>Versions</dt><dd>${count(d.versions.length)}</dd>
<dt>In quarantine</dt><dd>${open.length === 0 ? 'nothing' : html`<a href="#quarantine">${open.length} file(s) waiting</a>`}</dd>
</dl>
<h2>Versions</h2>
${versionsTable(d)}
<h2>History of the current version</h2>
${historyTable(v, d)}
<h2 id="quarantine">Quarantine</h2>
${open.length === 0 ? html`<p>No file is waiting in quarantine.</p>` : html`<p>${open.length} file(s) broke the contract and wait for an operator. Each is kept for good, and is not a version until released.</p>${open.map((e) => quarantined(v, e))}`}
${releasedTable(v, released)}`;
}
