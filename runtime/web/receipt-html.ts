import { html } from 'hono/html';
import { type Receipt, where } from '../archive/receipt.ts';
import { count } from '../qa/format.ts';
import { badge, bytes, type Html, sha } from './format.ts';

const STATUS_TONE = { accepted: 'ok', quarantined: 'warn', refused: 'bad' } as const;

/** A receipt's problems: one row per kind, with its count and the first places it was found. */
export function problemsTable(r: Receipt, caption: string): Html {
  if (r.problems.length === 0) return html``;
  return html`<div class="table-wrap"><table>
<caption>${caption}: ${r.problems.length} kind(s) of problem${r.truncated ? ' (more kinds not listed)' : ''}</caption>
<thead><tr><th scope="col">Rule</th><th scope="col">Column</th><th scope="col" class="num">Rows</th><th scope="col">What was found</th><th scope="col">First found at</th></tr></thead>
<tbody>${r.problems.map(
    (p) => html`<tr><td><code>${p.rule}</code></td><td>${p.column ?? html`<span class="muted">—</span>`}</td>
<td class="num">${count(p.count)}</td><td>${p.message}</td>
<td>${p.at
      .slice(0, 3)
      .map(
        (a) =>
          html`<div>${where(a)}${a.value !== undefined ? html`: <code>${JSON.stringify(a.value)}</code>` : ''}${a.detail ? html` <span class="muted">(${a.detail})</span>` : ''}</div>`,
      )}</td></tr>`,
  )}</tbody></table></div>`;
}

/** A whole receipt, as the sender got it. */
export function receiptView(r: Receipt): Html {
  const c = r.current;
  return html`<dl class="facts">
<dt>Status</dt><dd>${badge(r.status, STATUS_TONE[r.status])}</dd>
<dt>File</dt><dd>${r.file.filename} (${bytes(r.file.size)}, sha256 ${sha(r.file.sha256)})</dd>
${r.version ? html`<dt>${r.status === 'accepted' ? 'Version' : 'Version once released'}</dt><dd><code>${r.version}</code></dd>` : ''}
${r.rows !== undefined ? html`<dt>Rows</dt><dd>${count(r.rows)}</dd>` : ''}
${c ? html`<dt>Current</dt><dd>${c.changed ? html`<code>${c.version}</code>${c.previous ? html` (was <code>${c.previous}</code>)` : ''}` : html`<code>${c.version}</code>, unchanged`}</dd>` : ''}
${r.crs ? html`<dt>CRS</dt><dd>${r.crs}</dd>` : ''}
${r.bbox ? html`<dt>Extent</dt><dd><code>${r.bbox.map((n) => Number(n.toPrecision(8))).join(', ')}</code> <span class="muted">(min x, min y, max x, max y)</span></dd>` : ''}
${r.columns.length > 0 ? html`<dt>Columns</dt><dd>${r.columns.map((col, i) => html`${i > 0 ? ', ' : ''}<code>${col.name}</code> <span class="muted">${col.type}</span>`)}</dd>` : ''}
${r.change ? html`<dt>Change</dt><dd>${count(r.change.rowsBefore)} → ${count(r.change.rowsAfter)} rows against <code>${r.change.against}</code></dd>` : ''}
${r.geometry && r.geometry.invalid > 0 ? html`<dt>Invalid geometries</dt><dd>${r.geometry.invalid} (${r.geometry.repaired} repaired, ${r.geometry.kept} kept; policy ${r.geometry.policy})</dd>` : ''}
</dl>
${problemsTable(r, `Problems in ${r.file.filename}`)}
${r.warnings.length > 0 ? html`<h3>Warnings</h3><ul>${r.warnings.map((w) => html`<li>${w}</li>`)}</ul>` : ''}`;
}
