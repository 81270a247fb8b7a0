import { html } from 'hono/html';
import type { DeliveryAttempt, Subscription } from '../../partners/subscriptions.ts';
import { DISABLE_AFTER_FAILURES } from '../../partners/subscriptions.ts';
import { badge, type Tone, when } from '../../web/format.ts';
import type { View } from '../../web/pages.ts';
import type { Html } from '../layout.ts';

const DELIVERY_TONE: Record<string, Tone> = {
  delivered: 'ok',
  failed: 'bad',
  pending: 'warn',
  'handed-off': 'info',
};

function subscriptionsTable(subscriptions: readonly Subscription[]): Html {
  if (subscriptions.length === 0) return html`<p>No partner has subscribed.</p>`;
  return html`<div class="table-wrap"><table id="subscriptions">
<caption>${subscriptions.length} subscription(s), oldest first</caption>
<thead><tr><th scope="col">Subscription</th><th scope="col">Partner</th><th scope="col">Callback URL</th><th scope="col">Products</th><th scope="col">Status</th><th scope="col" class="num">Failures in a row</th><th scope="col">Since</th></tr></thead>
<tbody>${subscriptions.map(
    (s) => html`<tr data-subscription="${s.id}"><th scope="row"><code>${s.id}</code></th><td>${s.partner}</td>
<td><code>${s.url}</code></td><td>${s.products.join(', ')}</td>
<td>${s.disabledAt ? html`${badge('disabled', 'bad')}<div class="muted">${s.disabledReason ?? ''}</div>` : badge('active', 'ok')}</td>
<td class="num">${s.consecutiveFailures}</td><td>${when(s.createdAt)}</td></tr>`,
  )}</tbody></table></div>`;
}

function deliveriesTable(deliveries: readonly DeliveryAttempt[]): Html {
  if (deliveries.length === 0) return html`<p>Nothing has been sent yet.</p>`;
  return html`<div class="table-wrap"><table id="deliveries">
<caption>The ${deliveries.length} latest delivery attempts, newest first</caption>
<thead><tr><th scope="col">When</th><th scope="col">Partner</th><th scope="col">Version</th><th scope="col" class="num">Attempt</th><th scope="col">Answer</th><th scope="col">Notification</th></tr></thead>
<tbody>${deliveries.map(
    (d) => html`<tr data-notification="${d.notificationId}"><td>${when(d.at, true)}</td><td>${d.partner}</td>
<td>${d.product} <code>${d.version}</code></td><td class="num">${d.attempt}</td>
<td>${d.statusCode ?? ''} ${d.error ? html`<span class="muted">${d.error}</span>` : ''}</td>
<td>${badge(d.status, DELIVERY_TONE[d.status] ?? 'neutral')}</td></tr>`,
  )}</tbody></table></div>`;
}

/** Partners' subscriptions to publish notifications, and the latest attempts to deliver them. */
export function subscriptionsPage(
  _v: View,
  subscriptions: readonly Subscription[],
  deliveries: readonly DeliveryAttempt[],
): Html {
  return html`<h1>Notifications</h1>
<p>Partners subscribe a callback URL to products (<code>POST /subscriptions</code>); each publish sends them a signed notification (Standard Webhooks), tried again with backoff. A subscription is disabled after ${DISABLE_AFTER_FAILURES} notifications in a row could not be delivered.</p>
<h2>Subscriptions</h2>
${subscriptionsTable(subscriptions)}
<h2>Recent deliveries</h2>
${deliveriesTable(deliveries)}`;
}
