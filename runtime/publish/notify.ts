import { createHash } from 'node:crypto';
import { changeFeedKeys } from '../layout/buckets.ts';
import { markNotification, recordNotifications, subscribersOf } from '../partners/subscriptions.ts';
import type { Platform } from '../platform/platform.ts';
import type { OutgoingNotification, PublishNotification } from '../ports/notifications.ts';
import { flatgeobufOutputs, type Manifest } from './manifest.ts';

/**
 * An output's collection, as the items routes name it (`runtime/web/published.ts` collectionId, which sits
 * above this room; a test holds the two to the same spelling).
 */
export const latestCollectionId = (product: string, output: string): string => `${product}.${output}`;

/** `<api base>/collections/{collectionId}/changes?since=<previous version>`: what changed since a version. */
export function changesLink(apiBase: string, collection: string, since: string): string {
  return `${apiBase.replace(/\/+$/, '')}/collections/${collection}/changes?since=${encodeURIComponent(since)}`;
}

/**
 * The notification a subscription gets for a published version: the changes links go to its own API, and only
 * where they answer: an output paged as a collection (it has a FlatGeobuf) whose version carries a change feed.
 */
export function notificationBody(
  manifest: Manifest,
  previousVersion: string | null,
  publishedAt: string,
  apiBase: string,
  feeds: ReadonlySet<string> = new Set(),
): PublishNotification {
  // Each output once (it has a file in each of its formats), and which of them are collections.
  const outputs = new Map(manifest.outputs.map((o) => [o.name, o.rows]));
  const paged = new Set(flatgeobufOutputs(manifest).map((o) => o.name));
  return {
    type: 'product.published',
    timestamp: publishedAt,
    data: {
      product: manifest.product,
      version: manifest.version,
      previousVersion,
      outputs: [...outputs].map(([name, rows]) => {
        if (!paged.has(name)) return { name, rows };
        const collection = latestCollectionId(manifest.product, name);
        const changes =
          previousVersion && feeds.has(name) ? changesLink(apiBase, collection, previousVersion) : undefined;
        return { name, rows, collection, ...(changes ? { changes } : {}) };
      }),
    },
  };
}

/** The outputs of a version that carry a change feed (its header is written last, so it says the feed is whole). */
async function outputsWithFeeds(p: Platform, manifest: Manifest): Promise<Set<string>> {
  const names = [...new Set(manifest.outputs.map((o) => o.name))];
  const has = await Promise.all(
    names.map((n) => p.store.exists('egress', changeFeedKeys(manifest.product, manifest.version, n).header)),
  );
  return new Set(names.filter((_, i) => has[i]));
}

/** The message id of a version's notification to a subscription: the same if a publish is tried again. */
export const notificationId = (subscriptionId: string, product: string, version: string): string =>
  `msg_${createHash('sha256').update(`${subscriptionId}\n${product}\n${version}`).digest('hex').slice(0, 32)}`;

export interface Notified {
  /** Notifications recorded now (none for a version told before). */
  readonly recorded: number;
  /** How they left: queued for `strata serve`, handed to EventBridge, or failed to. */
  readonly outcomes: Record<string, number>;
}

/**
 * Tells every live subscription to a product that a version was published: each notification is recorded
 * first (the delivery log, and locally the outbox `strata serve` delivers from), then handed to the sender.
 */
export async function notifyPublished(
  p: Platform,
  manifest: Manifest,
  previousVersion: string | null,
  publishedAt: string,
): Promise<Notified> {
  const subscribers = await subscribersOf(p.db, manifest.product);
  if (subscribers.length === 0) return { recorded: 0, outcomes: {} };
  const outbox = !p.notifications || p.notifications.delivers === 'outbox';
  const feeds = previousVersion ? await outputsWithFeeds(p, manifest) : new Set<string>();
  const outgoing: OutgoingNotification[] = subscribers.map((s) => ({
    id: notificationId(s.id, manifest.product, manifest.version),
    subscription: { id: s.id, partner: s.partner, url: s.url },
    body: JSON.stringify(notificationBody(manifest, previousVersion, publishedAt, s.apiBase, feeds)),
    secret: s.secret,
  }));
  const fresh = new Set(
    await recordNotifications(
      p.db,
      outgoing.map((n) => ({
        id: n.id,
        subscriptionId: n.subscription.id,
        partner: n.subscription.partner,
        product: manifest.product,
        version: manifest.version,
        body: n.body,
        status: 'pending',
      })),
      new Date(publishedAt),
    ),
  );
  const toSend = outgoing.filter((n) => fresh.has(n.id));
  const outcomes: Record<string, number> = {};
  if (outbox || !p.notifications) {
    outcomes.queued = toSend.length;
    return { recorded: toSend.length, outcomes };
  }
  for (const o of await p.notifications.send(toSend)) {
    outcomes[o.outcome] = (outcomes[o.outcome] ?? 0) + 1;
    if (o.outcome === 'handed-off') await markNotification(p.db, o.id, 'handed-off', { at: new Date() });
    if (o.outcome === 'failed')
      await markNotification(p.db, o.id, 'failed', { at: new Date(), error: o.error });
  }
  return { recorded: toSend.length, outcomes };
}
