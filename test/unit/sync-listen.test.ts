import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Listener, listenForNotifications, verifyWebhook } from '../../runtime/sync/listen.ts';

// The Standard Webhooks (Svix) published example: this secret, id, timestamp and body sign to this signature.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: '1614265330',
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const headersOf = (v: { id: string; timestamp: string; signature: string }) => ({
  'webhook-id': v.id,
  'webhook-timestamp': v.timestamp,
  'webhook-signature': v.signature,
});

describe('strata sync --listen: Standard Webhooks notifications', () => {
  let listener: Listener | undefined;
  afterEach(() => listener?.server.close());

  it("verifies the specification's published example, and refuses a changed body, a stale time and another secret", () => {
    const at = Number(VECTOR.timestamp) * 1000;
    expect(verifyWebhook(VECTOR.secret, headersOf(VECTOR), VECTOR.body, at)).toBeUndefined();
    // A secret being rotated: two signatures, the second one good.
    const both = { ...VECTOR, signature: `v1,AAAA ${VECTOR.signature}` };
    expect(verifyWebhook(VECTOR.secret, headersOf(both), VECTOR.body, at)).toBeUndefined();
    expect(verifyWebhook(VECTOR.secret, headersOf(VECTOR), '{"test": 2432232315}', at)).toMatch(
      /no signature/,
    );
    expect(verifyWebhook(VECTOR.secret, headersOf(VECTOR), VECTOR.body, at + 301_000)).toMatch(/300 s/);
    expect(verifyWebhook('whsec_b3RoZXI=', headersOf(VECTOR), VECTOR.body, at)).toMatch(/no signature/);
    expect(verifyWebhook(VECTOR.secret, {}, VECTOR.body, at)).toMatch(/missing webhook-id/);
  });

  it('answers a signed notification 204 and syncs once; an unsigned one is 401 and syncs nothing', async () => {
    let syncs = 0;
    listener = await listenForNotifications({
      port: 0,
      secret: VECTOR.secret,
      sync: async () => {
        syncs++;
      },
    });
    const url = `http://127.0.0.1:${(listener.server.address() as AddressInfo).port}/`;
    const body = JSON.stringify({ type: 'product.published', product: 'site_list' });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const key = Buffer.from(VECTOR.secret.slice(6), 'base64');
    const signature = `v1,${createHmac('sha256', key).update(`msg_1.${timestamp}.${body}`).digest('base64')}`;
    const refused = await fetch(url, { method: 'POST', body, headers: { 'webhook-id': 'msg_1' } });
    expect(refused.status).toBe(401);
    await listener.idle();
    expect(syncs).toBe(0);
    const ok = await fetch(url, {
      method: 'POST',
      body,
      headers: headersOf({ id: 'msg_1', timestamp, signature }),
    });
    expect(ok.status).toBe(204);
    await listener.idle();
    expect(syncs).toBe(1);
  });
});
