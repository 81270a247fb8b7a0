import {
  type AttemptResult,
  claimDue,
  type DueNotification,
  recordAttempt,
} from '../../partners/subscriptions.ts';
import type { Queryable } from '../../ports/database.ts';
import {
  type NotificationSender,
  type OutgoingNotification,
  type SendOutcome,
  signNotification,
} from '../../ports/notifications.ts';

/**
 * The local sender: notifications wait in the database's outbox (recorded by the
 * publish) until `strata serve` delivers them, so a notification outlives a stopped or restarted serve.
 */
export class OutboxSender implements NotificationSender {
  readonly delivers = 'outbox' as const;
  async provision(): Promise<void> {}
  async retire(): Promise<void> {}
  async send(notifications: readonly OutgoingNotification[]): Promise<SendOutcome[]> {
    return notifications.map((n) => ({ id: n.id, outcome: 'queued' as const }));
  }
}

/** Tries per notification, the first included: 6 spans about 15 minutes with the default backoff. */
export const MAX_ATTEMPTS = 6;

/** The wait after failed attempt `n` (1-based): 30 s doubling, at most an hour. */
export const defaultBackoff = (n: number): number => Math.min(30_000 * 2 ** (n - 1), 3_600_000);

export interface DeliveryOptions {
  readonly fetch?: typeof fetch;
  readonly now?: () => Date;
  readonly backoff?: (attempt: number) => number;
  readonly maxAttempts?: number;
  /** How long a partner's endpoint has to answer. @default 10 s */
  readonly timeoutMs?: number;
  /** How long a claimed notification is left to this deliverer before another may take it. @default 60 s */
  readonly leaseMs?: number;
}

/** One attempt: signed now (a retry is signed again, so its timestamp is fresh), POSTed, not redirected. */
async function attempt(n: DueNotification, o: DeliveryOptions): Promise<Omit<AttemptResult, 'retryAt'>> {
  const at = (o.now ?? (() => new Date()))();
  const headers = signNotification(n.subscription.secret, n.id, at, n.body);
  try {
    const res = await (o.fetch ?? fetch)(n.subscription.url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'strata-notifications' },
      body: n.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
    });
    await res.body?.cancel().catch(() => {});
    const delivered = res.status >= 200 && res.status < 300;
    return { at, statusCode: res.status, error: delivered ? null : `HTTP ${res.status}`, delivered };
  } catch (e) {
    const error = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
    return { at, statusCode: null, error, delivered: false };
  }
}

/**
 * Delivers the notifications due now, one batch: each attempt is logged; a failed one is tried again after
 * the backoff, up to `maxAttempts`, then given up (and counted towards disabling its subscription).
 * Returns how many were attempted.
 */
export async function deliverDue(db: Queryable, o: DeliveryOptions = {}): Promise<number> {
  const now = (o.now ?? (() => new Date()))();
  const due = await claimDue(db, now, o.leaseMs ?? 60_000);
  await Promise.all(
    due.map(async (n) => {
      const r = await attempt(n, o);
      const tried = n.attempts + 1;
      const retryAt =
        !r.delivered && tried < (o.maxAttempts ?? MAX_ATTEMPTS)
          ? new Date(r.at.getTime() + (o.backoff ?? defaultBackoff)(tried))
          : undefined;
      await recordAttempt(db, n, { ...r, ...(retryAt ? { retryAt } : {}) });
    }),
  );
  return due.length;
}

/** Delivers every `pollMs` until stopped; `stop` waits for the batch in hand. */
export function deliveryLoop(
  db: Queryable,
  pollMs: number,
  log: (message: string) => void,
  o: DeliveryOptions = {},
): { stop(): Promise<void> } {
  let running = Promise.resolve();
  const timer = setInterval(() => {
    running = running
      .then(() => deliverDue(db, o))
      .then(() => {})
      .catch((e) => log(`notification delivery failed: ${(e as Error).message}`));
  }, pollMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
