import { html } from 'hono/html';
import type { Dataset } from '../../catalog/schema.ts';
import { count } from '../../qa/format.ts';
import type { View } from '../../web/pages.ts';
import type { HttpProblem } from '../../web/problem.ts';
import { formField, type Html, to } from '../layout.ts';
import type { DatasetSummary } from '../reads.ts';
import { datasetsTable } from './datasets.ts';
import { freshnessTable, type ProductRow } from './products.ts';

export function overviewPage(
  v: View,
  products: readonly ProductRow[],
  catalog: ReadonlyMap<string, Dataset>,
  datasets: readonly DatasetSummary[],
): Html {
  const late = products.filter((p) => p.freshness.state === 'late').length;
  const waiting = datasets.reduce((n, d) => n + d.quarantined, 0);
  return html`<h1>Overview</h1>
<ul class="stats" aria-label="At a glance">
<li><span class="n">${count(products.length)}</span> products</li>
<li><span class="n${late > 0 ? ' bad' : ''}">${count(late)}</span> late</li>
<li><span class="n">${count(datasets.length)}</span> datasets</li>
<li><span class="n${waiting > 0 ? ' bad' : ''}">${count(waiting)}</span> file(s) in quarantine</li>
</ul>
<h2>Freshness</h2>
${freshnessTable(v, products)}
<h2>Datasets</h2>
${datasetsTable(v, catalog, datasets)}
<p>Runs, their attempts and costs are kept in the database: <a href="${to(v, '/runs')}">see the runs</a>.</p>`;
}

export function loginPage(v: View, next: string, problem?: string): Html {
  return html`<h1>Sign in to the console</h1>
<p>The console is for operators: paste an API key of a partner with the <code>operator</code> scope (<code>strata partners add ops --scope operator</code> makes one). The key is checked and not kept: the console gives your browser a session of its own, for eight hours, that ends when the key is revoked.</p>
${problem ? html`<div class="notice bad" role="alert">${problem}</div>` : ''}
<form class="act" method="post" action="${to(v, '/login')}">
${formField(v)}<input type="hidden" name="next" value="${next}">
<div><label for="key">API key</label><input class="wide" type="password" id="key" name="key" required autocomplete="off" spellcheck="false"></div>
<button type="submit">Sign in</button>
</form>`;
}

const RESUMING = 503;

/** An error as a page: what went wrong, for the person reading it, and where to go from there. */
export function errorPage(v: View, p: HttpProblem): Html {
  const retry = p.headers['Retry-After'];
  return html`<h1>${p.status === RESUMING && retry ? 'The database is waking up' : p.title}</h1>
<div class="notice bad" role="alert"><p>${p.detail}</p>
${retry ? html`<p>Try again in ${retry} second(s): <a href="">load this page again</a>.</p>` : ''}</div>
${p.status === RESUMING && retry ? html`<p>Runs and their attempts are kept in the database, which pauses when no work is waiting. Datasets, products, their versions and QA reports are read without it: <a href="${to(v)}">the overview</a> answers at once.</p>` : ''}
<p><a href="${to(v)}">Back to the overview</a></p>`;
}
