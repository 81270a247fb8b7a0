import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * Publish notifications to partners' callback URLs, signed as the Standard Webhooks specification says
 * (https://www.standardwebhooks.com): a partner verifies them with any of its libraries. The port is how a
 * notification leaves: locally it waits in the database's outbox for `strata serve` to deliver it; on AWS it
 * is put on EventBridge, whose API destination delivers it (with its retries and dead-letter queue).
 */

/** The body of a publish notification: small, enough to decide whether to fetch, and where. */
export const PublishNotification = z.strictObject({
  type: z.literal('product.published'),
  /** When the version was published (its `latest` pointer written). */
  timestamp: z.iso.datetime(),
  data: z.strictObject({
    product: z.string(),
    version: z.string(),
    /** The version `latest` pointed to before; null for a product's first version. */
    previousVersion: z.string().nullable(),
    outputs: z.array(
      z.strictObject({
        name: z.string(),
        rows: z.number().int().nonnegative(),
        /** The output's collection (as the items routes name it); absent when it has no FlatGeobuf to page. */
        collection: z.string().optional(),
        /**
         * What changed since the previous version; absent for a first version and for an output without a
         * change feed in this version (no key, or not comparable by key with the previous version).
         */
        changes: z.url().optional(),
      }),
    ),
  }),
});
export type PublishNotification = z.infer<typeof PublishNotification>;

/** A subscription as the sender needs it to provision or retire its route. */
export interface SubscriptionTarget {
  readonly id: string;
  readonly partner: string;
  readonly url: string;
}

/** One notification for one subscription, ready to sign. */
export interface OutgoingNotification {
  /** The message id (`webhook-id`): the same on every retry, so a partner can drop duplicates. */
  readonly id: string;
  readonly subscription: SubscriptionTarget;
  readonly body: string;
  /** The subscription's secret (`whsec_…`). */
  readonly secret: string;
}

/** What became of a notification handed to the sender. */
export type SendOutcome =
  | { readonly id: string; readonly outcome: 'queued' }
  | { readonly id: string; readonly outcome: 'handed-off'; readonly detail: string }
  | { readonly id: string; readonly outcome: 'failed'; readonly error: string };

export interface NotificationSender {
  /** `outbox`: the database's outbox is delivered by `strata serve`; `eventbridge`: AWS delivers. */
  readonly delivers: 'outbox' | 'eventbridge';
  /** Makes what a new subscription is delivered through (on AWS its connection, destination and rule). */
  provision(sub: SubscriptionTarget): Promise<void>;
  /** Takes that down again; a subscription already gone is not an error. */
  retire(subscriptionId: string): Promise<void>;
  /** Sends (or leaves for the outbox) each notification; never throws for one that fails. */
  send(notifications: readonly OutgoingNotification[]): Promise<SendOutcome[]>;
}

const SECRET_PREFIX = 'whsec_';

/** A new signing secret: 24 random bytes, as `whsec_<base64>` (the form the Standard Webhooks libraries read). */
export function newSigningSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(24).toString('base64')}`;
}

function secretBytes(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('a signing secret must start with whsec_');
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

/** The three headers of a signed message, by their Standard Webhooks names. */
export interface SignedHeaders {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
}

/** Signs `body` as message `id` at `at`: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`. */
export function signNotification(secret: string, id: string, at: Date, body: string): SignedHeaders {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const mac = createHmac('sha256', secretBytes(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${mac}` };
}

/**
 * Checks a signed message as a partner would (for tests and the example client): one of the space-separated
 * signatures must match, and the timestamp be within `toleranceSeconds` of `now`.
 */
export function verifyNotification(
  secret: string,
  headers: SignedHeaders,
  body: string,
  now: Date,
  toleranceSeconds = 300,
): boolean {
  const ts = Number(headers['webhook-timestamp']);
  if (!Number.isFinite(ts) || Math.abs(now.getTime() / 1000 - ts) > toleranceSeconds) return false;
  const expected = Buffer.from(
    signNotification(secret, headers['webhook-id'], new Date(ts * 1000), body)['webhook-signature'],
  );
  return headers['webhook-signature'].split(' ').some((s) => {
    const got = Buffer.from(s);
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}
