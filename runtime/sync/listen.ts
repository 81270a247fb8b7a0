import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';

/**
 * `strata sync --listen`: a small HTTP receiver for Strata's publish notifications. A notification is
 * verified as Standard Webhooks signs it (headers `webhook-id`, `webhook-timestamp`, `webhook-signature`:
 * `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` with the secret, `whsec_<base64>`), then answered
 * at once and followed by a sync. What the sync applies does not depend on the notification's body: it asks
 * for the changes since the version the copy has reached, so a notification lost, repeated or out of order
 * costs nothing.
 */

/** How far a notification's timestamp may be from now (Standard Webhooks' replay window). */
export const TOLERANCE_SECONDS = 300;

/** The key of a `whsec_…` secret (base64 after the prefix); a secret without the prefix is taken as it is. */
function secretKey(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret);
}

/** Why a notification is refused, or undefined when its signature verifies. */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  now = Date.now(),
): string | undefined {
  const one = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const id = one('webhook-id');
  const timestamp = one('webhook-timestamp');
  const signatures = one('webhook-signature');
  if (!id || !timestamp || !signatures) return 'missing webhook-id, webhook-timestamp or webhook-signature';
  const ts = Number(timestamp);
  if (!Number.isInteger(ts) || Math.abs(now / 1000 - ts) > TOLERANCE_SECONDS)
    return `webhook-timestamp ${timestamp} is more than ${TOLERANCE_SECONDS} s from now`;
  const expected = createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.${body}`).digest();
  // Several signatures may be sent, space-separated (a secret being rotated): any one that verifies will do.
  for (const part of signatures.split(' ')) {
    const [version, sig] = part.split(',');
    if (version !== 'v1' || !sig) continue;
    const given = Buffer.from(sig, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return undefined;
  }
  return 'no signature verifies with the secret';
}

export interface Listener {
  readonly server: Server;
  /** Resolves once the syncs asked for so far have run. */
  idle(): Promise<void>;
}

/**
 * Listens on `port` (127.0.0.1 unless `host` says otherwise): a verified POST is answered 204 and a sync
 * follows, one at a time (a notification during a sync makes one more after it, not one each).
 */
export function listenForNotifications(options: {
  port: number;
  host?: string;
  secret: string;
  sync: () => Promise<void>;
  onRefused?: (why: string) => void;
}): Promise<Listener> {
  let running: Promise<void> = Promise.resolve();
  let queued = false;
  const ask = () => {
    if (queued) return;
    queued = true;
    running = running.then(async () => {
      queued = false;
      await options.sync().catch(() => {});
    });
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const why =
        req.method !== 'POST'
          ? 'notifications are POSTed'
          : verifyWebhook(options.secret, req.headers, Buffer.concat(chunks).toString('utf8'));
      if (why) {
        options.onRefused?.(why);
        res.writeHead(req.method !== 'POST' ? 405 : 401, { 'content-type': 'text/plain' }).end(`${why}\n`);
        return;
      }
      res.writeHead(204).end();
      ask();
    });
  });
  return new Promise((resolve) =>
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve({ server, idle: () => running })),
  );
}
