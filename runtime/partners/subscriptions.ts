import { randomBytes } from 'node:crypto';
import type { Queryable } from '../ports/database.ts';

/**
 * The one owner of `strata.subscriptions`, `strata.subscription_products`, `strata.notifications` and
 * `strata.delivery_attempts`: partners' callback URLs for publish notifications, each notification sent to
 * one (the local outbox), and every attempt to deliver it (the delivery log a partner and an operator read).
 */

/**
 * After this many notifications in a row that could not be delivered (each after all its retries), a
 * subscription is disabled: a partner whose endpoint is gone stops costing retries, and sees why.
 */
export const DISABLE_AFTER_FAILURES = 3;

export interface Subscription {
  readonly id: string;
  readonly partner: string;
  readonly url: string;
  readonly products: readonly string[];
  readonly apiBase: string;
  readonly createdAt: string;
  readonly consecutiveFailures: number;
  readonly disabledAt: string | null;
  readonly disabledReason: string | null;
}

/** A subscription with its secret, for whoever signs. */
export interface Subscriber extends Subscription {
  readonly secret: string;
}

export interface DeliveryAttempt {
  readonly notificationId: string;
  readonly subscriptionId: string;
  readonly partner: string;
  readonly product: string;
  readonly version: string;
  readonly attempt: number;
  readonly at: string;
  readonly statusCode: number | null;
  readonly error: string | null;
  /** The notification's state now: pending, delivered, failed or handed-off. */
  readonly status: string;
}

export const newSubscriptionId = (): string => `sub_${randomBytes(12).toString('hex')}`;

interface SubscriptionRow {
  id: string;
  partner: string;
  url: string;
  secret: string;
  api_base: string;
  created_at: string | Date;
  consecutive_failures: number | string;
  disabled_at: string | Date | null;
  disabled_reason: string | null;
  products: string | null;
}

const iso = (v: string | Date | null): string | null =>
  v === null ? null : v instanceof Date ? v.toISOString() : new Date(v).toISOString();

function subscriberOf(r: SubscriptionRow): Subscriber {
  return {
    id: r.id,
    partner: r.partner,
    url: r.url,
    secret: r.secret,
    products: r.products ? r.products.split(',').sort() : [],
    apiBase: r.api_base,
    createdAt: iso(r.created_at) as string,
    consecutiveFailures: Number(r.consecutive_failures),
    disabledAt: iso(r.disabled_at),
    disabledReason: r.disabled_reason,
  };
}

/** Hides the secret: what a listing shows. */
export function withoutSecret(s: Subscriber): Subscription {
  const { secret: _, ...rest } = s;
  return rest;
}

const SELECT = `SELECT s.id, s.partner, s.url, s.secret, s.api_base, s.created_at, s.consecutive_failures,
    s.disabled_at, s.disabled_reason,
    (SELECT string_agg(p.product, ',') FROM strata.subscription_products p WHERE p.subscription_id = s.id) AS products
  FROM strata.subscriptions s`;

export async function createSubscription(
  db: Queryable & { transaction<T>(fn: () => Promise<T>): Promise<T> },
  s: {
    id: string;
    partner: string;
    url: string;
    products: readonly string[];
    secret: string;
    apiBase: string;
  },
): Promise<Subscriber> {
  await db.transaction(async () => {
    await db.query(
      'INSERT INTO strata.subscriptions (id, partner, url, secret, api_base) VALUES ($1, $2, $3, $4, $5)',
      [s.id, s.partner, s.url, s.secret, s.apiBase],
    );
    for (const product of new Set(s.products))
      await db.query('INSERT INTO strata.subscription_products (subscription_id, product) VALUES ($1, $2)', [
        s.id,
        product,
      ]);
  });
  const created = await subscriptionById(db, s.id);
  if (!created) throw new Error(`subscription ${s.id} was not recorded`);
  return created;
}

/** A subscription that has not been deleted, by id. */
export async function subscriptionById(db: Queryable, id: string): Promise<Subscriber | undefined> {
  const [row] = await db.query<SubscriptionRow>(`${SELECT} WHERE s.id = $1 AND s.deleted_at IS NULL`, [id]);
  return row ? subscriberOf(row) : undefined;
}

/** A partner's subscriptions (every partner's without one), oldest first; deleted ones are left out. */
export async function listSubscriptions(db: Queryable, partner?: string): Promise<Subscription[]> {
  const rows = await db.query<SubscriptionRow>(
    `${SELECT} WHERE s.deleted_at IS NULL AND ($1::text IS NULL OR s.partner = $1) ORDER BY s.created_at, s.id`,
    [partner ?? null],
  );
  return rows.map((r) => withoutSecret(subscriberOf(r)));
}

/**
 * Marks a subscription deleted (its delivery log keeps pointing at it) and gives up its pending
 * notifications; false when there was none of that partner's to delete.
 */
export async function deleteSubscription(db: Queryable, partner: string, id: string): Promise<boolean> {
  const rows = await db.query(
    `UPDATE strata.subscriptions SET deleted_at = now()
      WHERE id = $1 AND partner = $2 AND deleted_at IS NULL RETURNING id`,
    [id, partner],
  );
  if (rows.length === 0) return false;
  await db.query(
    `UPDATE strata.notifications SET status = 'failed' WHERE subscription_id = $1 AND status = 'pending'`,
    [id],
  );
  return true;
}

/** The live subscriptions to a product (not deleted, not disabled), with their secrets. */
export async function subscribersOf(db: Queryable, product: string): Promise<Subscriber[]> {
  const rows = await db.query<SubscriptionRow>(
    `${SELECT} WHERE s.deleted_at IS NULL AND s.disabled_at IS NULL
       AND EXISTS (SELECT 1 FROM strata.subscription_products p WHERE p.subscription_id = s.id AND p.product = $1)
     ORDER BY s.id`,
    [product],
  );
  return rows.map(subscriberOf);
}

export interface NotificationRecord {
  readonly id: string;
  readonly subscriptionId: string;
  readonly partner: string;
  readonly product: string;
  readonly version: string;
  readonly body: string;
  readonly status: 'pending' | 'handed-off' | 'failed';
}

/**
 * Records notifications; one recorded before (a publish tried again: ids are made from the subscription
 * and the version) is left as it was, so no partner is told twice. Returns the ids newly recorded.
 */
export async function recordNotifications(
  db: Queryable,
  records: readonly NotificationRecord[],
  at: Date,
): Promise<string[]> {
  const fresh: string[] = [];
  for (const r of records) {
    const rows = await db.query(
      `INSERT INTO strata.notifications (id, subscription_id, partner, product, version, body, status,
         next_attempt_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz, $8::timestamptz) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [r.id, r.subscriptionId, r.partner, r.product, r.version, r.body, r.status, at.toISOString()],
    );
    if (rows.length > 0) fresh.push(r.id);
  }
  return fresh;
}

/** Sets what became of notifications handed to a sender that delivers them itself (EventBridge). */
export async function markNotification(
  db: Queryable,
  id: string,
  status: 'handed-off' | 'failed',
  attempt: { at: Date; error?: string },
): Promise<void> {
  const [row] = await db.query<{ subscription_id: string; partner: string; attempts: number }>(
    `UPDATE strata.notifications SET status = $2, attempts = attempts + 1 WHERE id = $1
     RETURNING subscription_id, partner, attempts`,
    [id, status],
  );
  if (!row) return;
  await logAttempt(db, {
    notificationId: id,
    subscriptionId: row.subscription_id,
    partner: row.partner,
    attempt: Number(row.attempts),
    at: attempt.at,
    statusCode: null,
    error: attempt.error ?? null,
  });
}

async function logAttempt(
  db: Queryable,
  a: {
    notificationId: string;
    subscriptionId: string;
    partner: string;
    attempt: number;
    at: Date;
    statusCode: number | null;
    error: string | null;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO strata.delivery_attempts (notification_id, attempt, subscription_id, partner, at, status_code, error)
     VALUES ($1, $2, $3, $4, $5::timestamptz, $6, $7) ON CONFLICT DO NOTHING`,
    [a.notificationId, a.attempt, a.subscriptionId, a.partner, a.at.toISOString(), a.statusCode, a.error],
  );
}

/** A notification due for delivery, claimed for a while so that no other deliverer takes it meanwhile. */
export interface DueNotification {
  readonly id: string;
  readonly body: string;
  readonly attempts: number;
  readonly subscription: Subscriber;
}

/**
 * Claims up to `limit` pending notifications due at `now`, each until `now + leaseMs` (a deliverer that dies
 * mid-attempt leaves it to be claimed again after that: nothing is lost when `strata serve` stops).
 */
export async function claimDue(
  db: Queryable,
  now: Date,
  leaseMs: number,
  limit = 20,
): Promise<DueNotification[]> {
  const claimed = await db.query<{ id: string; body: string; attempts: number; subscription_id: string }>(
    `UPDATE strata.notifications SET next_attempt_at = $2::timestamptz
      WHERE id IN (SELECT id FROM strata.notifications
                    WHERE status = 'pending' AND next_attempt_at <= $1::timestamptz
                    ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
      RETURNING id, body, attempts, subscription_id`,
    [now.toISOString(), new Date(now.getTime() + leaseMs).toISOString(), limit],
  );
  const due: DueNotification[] = [];
  for (const c of claimed) {
    const subscription = await subscriptionById(db, c.subscription_id);
    if (!subscription || subscription.disabledAt) {
      await db.query(`UPDATE strata.notifications SET status = 'failed' WHERE id = $1`, [c.id]);
      continue;
    }
    due.push({ id: c.id, body: c.body, attempts: Number(c.attempts), subscription });
  }
  return due;
}

/** What one delivery attempt came to, and when to try again (undefined: it is over). */
export interface AttemptResult {
  readonly at: Date;
  readonly statusCode: number | null;
  readonly error: string | null;
  readonly delivered: boolean;
  readonly retryAt?: Date;
}

/**
 * Logs an attempt and moves the notification on: delivered, pending until `retryAt`, or failed. A delivered
 * notification sets its subscription's failures back to 0; a failed one counts one more, and the
 * subscription is disabled at {@link DISABLE_AFTER_FAILURES}.
 */
export async function recordAttempt(db: Queryable, n: DueNotification, r: AttemptResult): Promise<void> {
  const attempt = n.attempts + 1;
  await logAttempt(db, {
    notificationId: n.id,
    subscriptionId: n.subscription.id,
    partner: n.subscription.partner,
    attempt,
    at: r.at,
    statusCode: r.statusCode,
    error: r.error,
  });
  const status = r.delivered ? 'delivered' : r.retryAt ? 'pending' : 'failed';
  await db.query(
    `UPDATE strata.notifications SET status = $2, attempts = $3, next_attempt_at = COALESCE($4::timestamptz, next_attempt_at)
      WHERE id = $1`,
    [n.id, status, attempt, r.retryAt?.toISOString() ?? null],
  );
  if (status === 'delivered') await resetFailures(db, n.subscription.id);
  if (status === 'failed') await countFailure(db, n.subscription.id, r.error ?? `HTTP ${r.statusCode}`);
}

async function resetFailures(db: Queryable, subscriptionId: string): Promise<void> {
  await db.query('UPDATE strata.subscriptions SET consecutive_failures = 0 WHERE id = $1', [subscriptionId]);
}

/**
 * One more notification that could not be delivered (after every retry here, or in EventBridge's
 * dead-letter queue on AWS); disables the subscription at the limit. Returns whether it is now disabled.
 */
export async function countFailure(
  db: Queryable,
  subscriptionId: string,
  lastError: string,
): Promise<boolean> {
  const [row] = await db.query<{ disabled: boolean }>(
    `UPDATE strata.subscriptions
        SET consecutive_failures = consecutive_failures + 1,
            disabled_at = CASE WHEN disabled_at IS NULL AND consecutive_failures + 1 >= $2 THEN now() ELSE disabled_at END,
            disabled_reason = CASE WHEN disabled_at IS NULL AND consecutive_failures + 1 >= $2
              THEN $3 ELSE disabled_reason END
      WHERE id = $1 RETURNING disabled_at IS NOT NULL AS disabled`,
    [
      subscriptionId,
      DISABLE_AFTER_FAILURES,
      `${DISABLE_AFTER_FAILURES} notifications in a row could not be delivered; the last: ${lastError}`,
    ],
  );
  return Boolean(row?.disabled);
}

/**
 * A notification EventBridge gave up on (it reached the dead-letter queue): logged as its last attempt,
 * failed, and counted towards disabling its subscription, once (a message delivered twice counts once).
 * False when the notification is unknown or was already counted.
 */
export async function recordDeadLettered(
  db: Queryable,
  n: { notificationId: string; at: Date; error: string },
): Promise<boolean> {
  const [row] = await db.query<{ subscription_id: string; partner: string; attempts: number }>(
    `UPDATE strata.notifications SET status = 'failed', attempts = attempts + 1
      WHERE id = $1 AND status <> 'failed' RETURNING subscription_id, partner, attempts`,
    [n.notificationId],
  );
  if (!row) return false;
  await logAttempt(db, {
    notificationId: n.notificationId,
    subscriptionId: row.subscription_id,
    partner: row.partner,
    attempt: Number(row.attempts),
    at: n.at,
    statusCode: null,
    error: n.error,
  });
  await countFailure(db, row.subscription_id, n.error);
  return true;
}

/** The latest delivery attempts (to a partner's, or one subscription's, or everyone's), newest first. */
export async function recentDeliveries(
  db: Queryable,
  which: { partner?: string; subscriptionId?: string; limit?: number } = {},
): Promise<DeliveryAttempt[]> {
  const rows = await db.query<{
    notification_id: string;
    subscription_id: string;
    partner: string;
    product: string;
    version: string;
    attempt: number;
    at: string | Date;
    status_code: number | null;
    error: string | null;
    status: string;
  }>(
    `SELECT a.notification_id, a.subscription_id, a.partner, n.product, n.version, a.attempt, a.at,
            a.status_code, a.error, n.status
       FROM strata.delivery_attempts a JOIN strata.notifications n ON n.id = a.notification_id
      WHERE ($1::text IS NULL OR a.partner = $1) AND ($2::text IS NULL OR a.subscription_id = $2)
      ORDER BY a.at DESC, a.attempt DESC LIMIT $3`,
    [which.partner ?? null, which.subscriptionId ?? null, which.limit ?? 20],
  );
  return rows.map((r) => ({
    notificationId: r.notification_id,
    subscriptionId: r.subscription_id,
    partner: r.partner,
    product: r.product,
    version: r.version,
    attempt: Number(r.attempt),
    at: iso(r.at) as string,
    statusCode: r.status_code === null ? null : Number(r.status_code),
    error: r.error,
    status: r.status,
  }));
}

/** A notification's state, for tests and the command line. */
export async function notificationStatus(
  db: Queryable,
  id: string,
): Promise<{ status: string; attempts: number } | undefined> {
  const [row] = await db.query<{ status: string; attempts: number }>(
    'SELECT status, attempts FROM strata.notifications WHERE id = $1',
    [id],
  );
  return row ? { status: row.status, attempts: Number(row.attempts) } : undefined;
}
