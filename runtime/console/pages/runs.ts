import { html } from 'hono/html';
import type { Receipt } from '../../archive/receipt.ts';
import type { CostLedger } from '../../cost/ledger.ts';
import { count, decimal } from '../../qa/format.ts';
import { type Run, type RunAttempt, RunKind, RunStatus } from '../../runs/schema.ts';
import { badge, bytes, statusBadge, took, when } from '../../web/format.ts';
import type { View } from '../../web/pages.ts';
import { receiptView } from '../../web/receipt-html.ts';
import { formField, type Html, to } from '../layout.ts';

const none = html`<span class="muted">—</span>`;

/** Runs an operator may send again (runs/redrive.ts says the same). */
export const retriable = (run: Run) => run.status === 'failed' || run.status === 'interrupted';

const busy = (run: Run) => run.status === 'queued' || run.status === 'running';

const message = (e: Record<string, unknown> | null | undefined) =>
  e ? String(e.message ?? e.code ?? '') : '';

const cut = (text: string, n: number) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** Where a run's target is described. */
const targetHref = (v: View, run: Run) =>
  to(v, run.kind === 'build' ? `/products/${run.target}` : `/datasets/${run.target}`);

function trigger(run: Run): string {
  const t = run.trigger;
  const by = t.by ? ` by ${t.by}` : '';
  return `${t.kind}${by}`;
}

function retryForm(v: View, run: Run, label: Html): Html {
  return html`<form class="act" method="post" action="${to(v, `/runs/${run.id}/retry`)}">${formField(v)}<button type="submit">${label}</button></form>`;
}

export interface RunFilter {
  readonly status?: RunStatus;
  readonly kind?: RunKind;
  readonly target?: string;
  readonly limit: number;
}

function select(name: string, label: string, values: readonly string[], chosen: string | undefined): Html {
  return html`<div><label for="f-${name}">${label}</label><select id="f-${name}" name="${name}">
<option value="">any</option>${values.map((x) => html`<option${x === chosen ? html` selected` : ''}>${x}</option>`)}</select></div>`;
}

export function runsPage(v: View, runs: readonly Run[], filter: RunFilter, now = Date.now()): Html {
  return html`<h1>Runs</h1>
<p>Every piece of work: ingests, builds, fetches. A failed or interrupted run can be sent again; it keeps its id, and each try is an attempt.</p>
<form class="filters" method="get" action="${to(v, '/runs')}" role="search" aria-label="Filter runs">
${select('status', 'Status', RunStatus.options, filter.status)}
${select('kind', 'Kind', RunKind.options, filter.kind)}
<div><label for="f-target">Dataset or product</label><input type="text" id="f-target" name="target" value="${filter.target ?? ''}" autocomplete="off"></div>
<div><label for="f-limit">How many</label><select id="f-limit" name="limit">${[50, 100, 500].map((n) => html`<option${n === filter.limit ? html` selected` : ''}>${n}</option>`)}</select></div>
<button type="submit" class="quiet">Show runs</button>
</form>
${
  runs.length === 0
    ? html`<p>No run matches.</p>`
    : html`<div class="table-wrap"><table id="runs">
<caption>${runs.length === filter.limit ? `The ${runs.length} most recent runs` : `${runs.length} run(s)`}${filter.status || filter.kind || filter.target ? ' that match' : ''}, newest first</caption>
<thead><tr><th scope="col">Run</th><th scope="col">Work</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col" class="num">Took</th><th scope="col" class="num">Attempts</th><th scope="col">Cause</th><th scope="col"><span class="vh">Action</span></th></tr></thead>
<tbody>${runs.map(
        (
          r,
        ) => html`<tr data-run="${r.id}"><th scope="row"><a href="${to(v, `/runs/${r.id}`)}"><code>${r.id}</code></a></th>
<td><span class="nowrap">${r.kind} <a href="${targetHref(v, r)}">${r.target}</a></span><div class="muted nowrap">${trigger(r)}</div></td>
<td>${statusBadge(r.status)}</td><td>${when(r.createdAt)}</td>
<td class="num">${took(r.startedAt, r.finishedAt, now)}</td><td class="num">${r.attempts}</td>
<td class="cause">${cut(message(r.error), 160)}</td>
<td>${retriable(r) ? retryForm(v, r, html`Retry<span class="vh"> run ${r.id} (${r.kind} ${r.target})</span>`) : ''}</td></tr>`,
      )}</tbody></table></div>`
}`;
}

const OUTCOME_TONE = {
  succeeded: 'ok',
  failed: 'bad',
  interrupted: 'warn',
  redriven: 'info',
} as const;

function attemptsTable(attempts: readonly RunAttempt[], now: number): Html {
  if (attempts.length === 0) return html`<p>No attempt yet: the run has not started.</p>`;
  return html`<div class="table-wrap"><table id="attempts">
<caption>Every attempt of the run, with how it ended and why</caption>
<thead><tr><th scope="col" class="num">Attempt</th><th scope="col">Started</th><th scope="col">Ended</th><th scope="col" class="num">Took</th><th scope="col">Outcome</th><th scope="col">Worker</th><th scope="col">Cause</th></tr></thead>
<tbody>${attempts.map(
    (
      a,
    ) => html`<tr><td class="num">${a.attempt}</td><td>${a.startedAt ? when(a.startedAt, true) : html`<span class="muted">never started</span>`}</td>
<td>${when(a.endedAt, true)}</td><td class="num">${a.endedAt ? took(a.startedAt, a.endedAt, now) : a.startedAt ? 'running' : '—'}</td>
<td>${a.status ? badge(a.status === 'redriven' ? 'sent again' : a.status, OUTCOME_TONE[a.status]) : badge('running', 'info')}</td>
<td>${a.worker ?? none}</td><td>${message(a.cause)}</td></tr>`,
  )}</tbody></table></div>`;
}

const usd = (n: number) => `$${n < 0.01 ? n.toFixed(6) : n.toFixed(4)}`;

function costTable(c: CostLedger): Html {
  const s3 = c.s3;
  const requests = [
    [s3.putRequests, 'PUT'],
    [s3.getRequests + s3.headRequests, 'GET/HEAD'],
    [s3.listRequests, 'LIST'],
  ]
    .filter(([n]) => (n as number) > 0)
    .map(([n, what]) => `${count(n as number)} ${what}`)
    .join(', ');
  return html`<div class="table-wrap"><table id="cost">
<caption>What the run used and cost${c.where === 'local' ? ' (it ran on this machine: what it would cost as a Fargate task on AWS)' : ''}, at prices of ${c.prices.date} in ${c.prices.region}</caption>
<thead><tr><th scope="col">Service</th><th scope="col">Used</th><th scope="col" class="num">USD</th></tr></thead>
<tbody>
<tr><th scope="row">Fargate task</th><td>${c.task.size} (${decimal(c.task.cpu / 1024)} vCPU, ${count(c.task.memoryMiB)} MiB, ${c.task.architecture}): ${decimal(c.task.seconds, 1)} s run, ${decimal(c.task.billedSeconds, 0)} s billed</td><td class="num">${usd(c.usd.fargate)}</td></tr>
<tr><th scope="row">Aurora</th><td>${decimal(c.aurora.acuSeconds, 1)} ACU-seconds${c.aurora.wokeCluster ? ', woke the cluster' : ''}</td><td class="num">${usd(c.usd.aurora)}</td></tr>
<tr><th scope="row">S3</th><td>${requests || 'no requests'}; ${bytes(s3.bytesWritten)} written, ${bytes(s3.bytesRead)} read</td><td class="num">${usd(c.usd.s3)}</td></tr>
<tr><th scope="row">Data API</th><td>${count(c.dataApi.calls)} call(s)</td><td class="num">${usd(c.usd.dataApi)}</td></tr>
</tbody>
<tfoot><tr><th scope="row">Total</th><td>and ${usd(c.s3StorageUsdPerMonth)} a month for the bytes it wrote</td><td class="num"><strong>${usd(c.usd.total)}</strong></td></tr></tfoot>
</table></div>`;
}

function resultView(v: View, run: Run): Html {
  const r = run.result ?? {};
  const version = typeof r.version === 'string' ? r.version : undefined;
  if (run.kind === 'build' && version)
    return html`<p>Published version <a href="${to(v, `/products/${run.target}#versions`)}"><code>${version}</code></a> of ${run.target}.
${r.qaReport ? html` <a href="${to(v, `/products/${run.target}/versions/${version}/qa`)}">Its QA report</a>.` : ''}</p>`;
  if (run.kind === 'build' && r.upToDate === true)
    return html`<p>Nothing to build: the latest version read the same inputs.</p>`;
  if (run.kind === 'ingest' && version)
    return html`<p>Version <code>${version}</code> of <a href="${to(v, `/datasets/${run.target}`)}">${run.target}</a>${typeof r.rows === 'number' ? `, ${count(r.rows)} rows` : ''}.</p>`;
  return html``;
}

/** Where the explanation of a failure lives: the cause, and for a build that failed its checks, its QA report. */
function causeView(v: View, run: Run): Html {
  if (!run.error) return html``;
  const qa = run.error.qaReport !== undefined;
  return html`<div class="notice bad" id="cause"><strong>${run.status === 'interrupted' ? 'Interrupted' : 'Failed'}${run.error.code ? html` (<code>${String(run.error.code)}</code>)` : ''}:</strong> ${message(run.error)}
${qa ? html`<p><a href="${to(v, `/runs/${run.id}/qa`)}">The QA report of this build</a> shows what its checks found.</p>` : ''}</div>`;
}

export interface RetryNote {
  readonly status: 'queued' | 'skipped';
  readonly reason?: string;
}

export function runPage(
  v: View,
  run: Run,
  attempts: readonly RunAttempt[],
  note: RetryNote | undefined,
  now = Date.now(),
): Html {
  const receipt = (run.result?.receipt ?? run.error?.receipt) as Receipt | undefined;
  const detail = run.trigger.detail ?? {};
  return html`<h1>Run <code>${run.id}</code><span class="sub">${run.kind} of <a href="${targetHref(v, run)}">${run.target}</a></span></h1>
${note ? html`<div class="notice ${note.status === 'queued' ? 'ok' : 'bad'}" role="status">${note.status === 'queued' ? `Sent again${busy(run) ? ': a worker will take it up; this page follows it.' : '.'}` : `Not sent again: ${note.reason ?? ''}`}</div>` : ''}
<p id="run-status" data-watch-status="${run.status}">Status: ${statusBadge(run.status)}</p>
${causeView(v, run)}
${retriable(run) ? retryForm(v, run, html`Retry this run`) : ''}
<dl class="facts">
<dt>Trigger</dt><dd>${trigger(run)}${typeof detail.release === 'string' ? html`: release of <code>${detail.release}</code> (${String(detail.reason ?? '')})` : ''}</dd>
<dt>Created</dt><dd>${when(run.createdAt, true)}</dd>
<dt>Started</dt><dd>${when(run.startedAt, true)}</dd>
<dt>Finished</dt><dd>${when(run.finishedAt, true)}</dd>
<dt>Took</dt><dd>${took(run.startedAt, run.finishedAt, now)}</dd>
<dt>Attempts</dt><dd>${run.attempts}</dd>
${run.catalogSha256 ? html`<dt>Catalog</dt><dd><code title="${run.catalogSha256}">${run.catalogSha256.slice(0, 12)}…</code></dd>` : ''}
</dl>
${resultView(v, run)}
<h2>Attempts</h2>
${attemptsTable(attempts, now)}
${receipt ? html`<h2>Receipt</h2>${receiptView(receipt)}` : ''}
<h2>Cost</h2>
${run.cost ? costTable(run.cost) : html`<p>Recorded once the run has finished.</p>`}`;
}
