// Webhooks that a captured request, a flood, a huge or malformed request or a broken
// secrets document cannot turn into builds, errors with internal text, or a crash.
import { createHmac } from 'node:crypto';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import type { RunRegistry } from '../../runtime/runs/registry.ts';
import { httpServer } from '../../runtime/serve/http.ts';
import {
  decodeHookName,
  onWebhook,
  parseWebhookSecrets,
  verifySignature,
  type WebhookLimits,
  WebhookSecretsError,
} from '../../runtime/triggers/webhook.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { notesCatalog } from '../helpers/notes.ts';

const sign = (body: Buffer | string, secret: string) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

describe('faults: webhook secrets documents', () => {
  it('a secrets document that is not valid says what is wrong, naming its source and never a secret', () => {
    const bad = [
      [
        '{"copy": "s3cr',
        'STRATA_WEBHOOK_SECRETS is not valid JSON: it must be an object of hook name to secret',
      ],
      ['["s3cret"]', 'STRATA_WEBHOOK_SECRETS is invalid: the document: '],
      ['{"copy": 42}', 'STRATA_WEBHOOK_SECRETS is invalid: "copy": '],
      ['{"copy": ["a", "b", "c"]}', 'STRATA_WEBHOOK_SECRETS is invalid: "copy": '],
      ['{"__proto__": "s3cret"}', 'STRATA_WEBHOOK_SECRETS is invalid: "__proto__": is not a hook name'],
      ['{"copy": ""}', 'STRATA_WEBHOOK_SECRETS is invalid: "copy": '],
    ] as const;
    for (const [text, start] of bad) {
      let error: unknown;
      try {
        parseWebhookSecrets(text, 'STRATA_WEBHOOK_SECRETS');
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(WebhookSecretsError);
      expect((error as Error).message.startsWith(start), (error as Error).message).toBe(true);
      expect((error as Error).message).not.toContain('s3cr');
    }
    expect(parseWebhookSecrets(undefined, 'x').size).toBe(0);
    expect([...parseWebhookSecrets('{"copy": ["new", "old"], "default": "d"}', 'x')]).toEqual([
      ['copy', ['new', 'old']],
      ['default', ['d']],
    ]);
  });

  it('accepts a signature only as sha256= and exactly 64 hex digits', () => {
    const body = Buffer.from('{}');
    const good = sign(body, 'k');
    expect(verifySignature(body, good, 'k')).toBe(true);
    expect(verifySignature(body, `${good}00`, 'k')).toBe(false);
    expect(verifySignature(body, `${good}zz`, 'k')).toBe(false);
    expect(verifySignature(body, good.slice(0, -2), 'k')).toBe(false);
    expect(verifySignature(body, ` ${good}`, 'k')).toBe(false);
  });

  it('decodes a percent-escaped hook name, and gives nothing for malformed escapes instead of throwing', () => {
    expect(decodeHookName('copy')).toBe('copy');
    expect(decodeHookName('co%70y')).toBe('copy');
    expect(decodeHookName('%E0%A4%A')).toBeUndefined();
    expect(decodeHookName('%')).toBeUndefined();
  });
});

describe.each(engines())('faults: webhooks on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  let server: Server;
  let port: number;
  let delivery = 0;
  const secrets = parseWebhookSecrets(JSON.stringify({ copy: ['new-secret', 'old-secret'] }), 'test');
  const limits: Partial<WebhookLimits> = {
    maxPerWindow: 3,
    rateWindowSeconds: 60,
    bodySeenSeconds: 600,
    maxBodyBytes: 1024,
  };
  const deps = (runs: RunRegistry = p.runs) => ({ catalog, runs, queue: p.queue, secrets, limits });
  const call = (body: string, headers: { secret?: string; delivery?: string; hook?: string } = {}) =>
    onWebhook(
      {
        hook: headers.hook ?? 'copy',
        body: Buffer.from(body),
        signature: sign(body, headers.secret ?? 'new-secret'),
        deliveryId: headers.delivery ?? `d-${++delivery}`,
      },
      deps(),
    );
  /** A raw HTTP request to the serve app, for what only the edge sees (paths, sizes). */
  const post = (path: string, body: Buffer, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          headers: { 'content-length': String(body.length), ...headers },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await notesCatalog(join(p.dir, 'catalog'));
    server = httpServer(p, catalog, secrets, () => {}, { webhookLimits: limits });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await p?.close();
  });
  beforeEach(async () => {
    await p.db.query("DELETE FROM strata.runs WHERE trigger->>'kind' = 'webhook'");
  });

  it('a captured request replayed under a new delivery id starts no second build', async () => {
    const body = JSON.stringify({ ref: 'main', after: 'abc123' });
    const first = await call(body, { delivery: 'gh-1' });
    const sameDelivery = await call(body, { delivery: 'gh-1' });
    const replayed = await call(body, { delivery: 'gh-forged-2' });
    expect(first).toMatchObject({ statusCode: 202 });
    expect(sameDelivery).toMatchObject({
      statusCode: 200,
      body: { duplicate: true, runId: first.body.runId },
    });
    expect(replayed.statusCode).toBe(409);
    expect(String(replayed.body.error)).toMatch(/already delivered within the last 600 s/);
    expect(await p.runs.lookups.countRecent({ target: 'copy', trigger: 'webhook', seconds: 60 })).toBe(1);
  });

  it('each hook may start only so many builds a minute (429 with Retry-After)', async () => {
    const outs = [];
    for (let i = 0; i < 5; i++) outs.push(await call(JSON.stringify({ push: i })));
    expect(outs.map((o) => o.statusCode)).toEqual([202, 202, 202, 429, 429]);
    expect(outs[3]!.headers).toEqual({ 'retry-after': '60' });
    expect(await p.runs.lookups.countRecent({ target: 'copy', trigger: 'webhook', seconds: 60 })).toBe(3);
  });

  it('two secrets during a rotation: the new and the old one both sign; no other does', async () => {
    expect((await call('{"n":1}', { secret: 'new-secret' })).statusCode).toBe(202);
    expect((await call('{"n":2}', { secret: 'old-secret' })).statusCode).toBe(202);
    expect((await call('{"n":3}', { secret: 'wrong' })).statusCode).toBe(401);
  });

  it('hook names like __proto__ get 401, and start nothing', async () => {
    for (const hook of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const out = await call('{}', { hook, secret: 'new-secret' });
      expect(out.statusCode, hook).toBe(401);
    }
    expect(await p.runs.lookups.countRecent({ target: '__proto__', trigger: 'webhook', seconds: 60 })).toBe(
      0,
    );
    const http = await post('/webhooks/__proto__', Buffer.from('{}'), {
      'x-hub-signature-256': sign('{}', 'new-secret'),
      'x-github-delivery': 'p1',
    });
    expect(http.status).toBe(401);
  });

  it('an oversized body gets 413, never 500, and nothing of the server in the answer', async () => {
    const big = Buffer.alloc(4096, 'a');
    const http = await post('/webhooks/copy', big, {
      'x-hub-signature-256': sign(big, 'new-secret'),
      'x-github-delivery': 'big-1',
    });
    expect(http.status).toBe(413);
    expect(JSON.parse(http.text)).toEqual({ error: 'the body is larger than 1024 bytes' });
    expect(
      (
        await onWebhook(
          { hook: 'copy', body: big, signature: sign(big, 'new-secret'), deliveryId: 'b2' },
          deps(),
        )
      ).statusCode,
    ).toBe(413);
  });

  it('malformed percent-escapes in the path get 400', async () => {
    const http = await post('/webhooks/%E0%A4%A', Buffer.from('{}'), { 'x-github-delivery': 'pe-1' });
    expect(http).toEqual({
      status: 400,
      text: JSON.stringify({ error: 'the hook name in the path is not valid percent-encoding' }),
    });
  });

  it('a failure inside is a 503 with a plain message, never internal text', async () => {
    const failing: RunRegistry = Object.create(p.runs, {
      lookups: {
        value: Object.create(p.runs.lookups, {
          findByDedupeKey: {
            value: async () => {
              throw new Error('relation "strata.runs" does not exist at character 42');
            },
          },
        }),
      },
    });
    const body = '{"x":1}';
    const out = await onWebhook(
      { hook: 'copy', body: Buffer.from(body), signature: sign(body, 'new-secret'), deliveryId: 'i-1' },
      deps(failing),
    );
    expect(out).toEqual({
      statusCode: 503,
      headers: { 'retry-after': '30' },
      body: { error: 'the webhook could not be taken now; send it again shortly' },
    });
  });
});
