import { execFile } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverDue, OutboxSender } from '../../runtime/adapters/local/webhook-delivery.ts';
import { type Catalog, loadCatalogOrThrow } from '../../runtime/catalog-files/loader.ts';
import { handleEvent, type RestProxyEvent } from '../../runtime/http/lambda.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { changeFeedKeys } from '../../runtime/layout/buckets.ts';
import {
  claimDue,
  DISABLE_AFTER_FAILURES,
  listSubscriptions,
  notificationStatus,
  recentDeliveries,
} from '../../runtime/partners/subscriptions.ts';
import { type NotificationSender, PublishNotification } from '../../runtime/ports/notifications.ts';
import type { Manifest } from '../../runtime/publish/manifest.ts';
import { notificationId } from '../../runtime/publish/notify.ts';
import { publishVersion } from '../../runtime/publish/publish.ts';
import { type Serving, serve } from '../../runtime/serve/serve.ts';
import { onNotificationDeadLetters } from '../../runtime/triggers/notification-dead-letter.ts';
import { collectionId } from '../../runtime/web/published.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { MemoryDirectory, testApp } from '../helpers/partner-api.ts';
import { until } from '../helpers/wait.ts';

const SHIPPED = fileURLToPath(new URL('../../catalog', import.meta.url));
const run = promisify(execFile);
const PRODUCT = 'county_places';

function manifest(version: string, runId: string, rows: number): Manifest {
  return {
    product: PRODUCT,
    version,
    runId,
    builtAt: '2026-12-07T04:00:00.000Z',
    platform: { name: 'strata', version: '0.1.0', engine: 'test' },
    inputs: [],
    steps: [],
    checks: [],
    outputs: (['csv', 'flatgeobuf'] as const).map((format) => ({
      name: 'places',
      table: 'places',
      format,
      key: `products/${PRODUCT}/${version}/places.${format}`,
      size: 3,
      sha256: 'c'.repeat(64),
      rows,
      srid: null,
    })),
    timings: { totalMs: 1 },
  };
}

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A partner's receiver on loopback: answers each request with the next status of `statuses` (then 204). */
async function receiver(statuses: number[] = []): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(statuses.shift() ?? 204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, server };
}

/** API Gateway's REST proxy event for a request to the stage `v1` of an execute-api host. */
function gatewayEvent(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): RestProxyEvent {
  const host = 'a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com';
  const all = { Host: host, 'X-Forwarded-Proto': 'https', 'X-Forwarded-Port': '443', ...headers };
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: method,
    headers: all,
    multiValueHeaders: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, [v]])),
    multiValueQueryStringParameters: null,
    pathParameters: { proxy: path.slice(1) },
    requestContext: { path: `/v1${path}`, domainName: host, stage: 'v1' },
    body: body ?? null,
    isBase64Encoded: false,
  };
}

describe.each(engines())('publish notifications on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  const partners = new MemoryDirectory();
  const acme = partners.add('acme', ['read:products/county_places'], 10_000);
  const other = partners.add('other', ['read:products/county_places'], 10_000);
  const app = () =>
    testApp({
      catalog,
      store: p.store,
      runs: p.runs,
      queue: p.queue,
      partners,
      subscriptions: { db: p.db, sender: new OutboxSender(), callbacks: { local: true } },
    });
  const subscribe = (key: string, body: unknown) =>
    app().request('http://127.0.0.1:8080/subscriptions', {
      method: 'POST',
      headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  const publish = async (version: string, rows: number) => {
    const r = await submit(p, { kind: 'build', product: PRODUCT }, { kind: 'cli' });
    return publishVersion(p, catalog, manifest(version, r.id, rows));
  };

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await loadCatalogOrThrow(SHIPPED);
  });
  afterAll(async () => p?.close());

  it('refuses products the partner may not read, unknown products and callbacks that are not https', async () => {
    const secret = partners.add('nosy', ['read:products/elsewhere'], 10_000);
    expect(
      (await subscribe(secret.apiKey!.key, { url: 'https://x.example/h', products: [PRODUCT] })).status,
    ).toBe(403);
    expect(
      (await subscribe(acme.apiKey!.key, { url: 'https://x.example/h', products: ['nope'] })).status,
    ).toBe(404);
    const plain = await subscribe(acme.apiKey!.key, { url: 'http://gis.example.org/h', products: [PRODUCT] });
    expect(plain.status).toBe(400);
    expect(await plain.text()).toContain('url: must be https');
  });

  it('signs a notification that the standardwebhooks library and Python verify, with the changes link', async () => {
    // Prepare
    const hook = await receiver();
    const res = await subscribe(acme.apiKey!.key, { url: hook.url, products: [PRODUCT] });
    expect(res.status).toBe(201);
    const sub = (await res.json()) as { id: string; secret: string; status: string };
    expect(sub.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    // The secret is shown once: a listing never has it, and another partner sees none of acme's.
    const listed = await app().request('http://127.0.0.1:8080/subscriptions', {
      headers: { 'X-API-Key': acme.apiKey!.key },
    });
    expect(JSON.stringify(await listed.json())).not.toContain(sub.secret);
    const others = await app().request('http://127.0.0.1:8080/subscriptions', {
      headers: { 'X-API-Key': other.apiKey!.key },
    });
    expect(await others.json()).toEqual([]);
    // Act: two versions published, each delivered
    await publish('20261207T040000000Z-aaaaaaaa', 10);
    await until('the first notification', async () => (await deliverDue(p.db)) >= 0 && hook.got.length === 1);
    // The second version carries a change feed of its output (its header is what a build writes last).
    await p.store.put(
      'egress',
      changeFeedKeys(PRODUCT, '20261207T050000000Z-bbbbbbbb', 'places').header,
      Buffer.from('{}'),
    );
    await publish('20261207T050000000Z-bbbbbbbb', 12);
    await until(
      'the second notification',
      async () => (await deliverDue(p.db)) >= 0 && hook.got.length === 2,
    );
    hook.server.close();
    // Assess
    const [first, second] = hook.got as [Received, Received];
    const verified = new Webhook(sub.secret).verify(second.body, second.headers as Record<string, string>);
    const body = PublishNotification.parse(verified);
    expect(PublishNotification.parse(JSON.parse(first.body)).data.previousVersion).toBeNull();
    expect(body.data).toEqual({
      product: PRODUCT,
      version: '20261207T050000000Z-bbbbbbbb',
      previousVersion: '20261207T040000000Z-aaaaaaaa',
      outputs: [
        {
          name: 'places',
          rows: 12,
          collection: collectionId(PRODUCT, 'places'),
          changes: `http://127.0.0.1:8080/collections/${collectionId(PRODUCT, 'places')}/changes?since=20261207T040000000Z-aaaaaaaa`,
        },
      ],
    });
    expect(second.headers['webhook-id']).toBe(
      notificationId(sub.id, PRODUCT, '20261207T050000000Z-bbbbbbbb'),
    );
    // A body changed by one byte does not verify.
    expect(() =>
      new Webhook(sub.secret).verify(
        second.body.replace('12', '13'),
        second.headers as Record<string, string>,
      ),
    ).toThrow();
    // A few lines of Python, as a partner without a library would write them.
    const python = [
      'import base64, hashlib, hmac, sys',
      'secret, msg_id, ts, sig, body = sys.argv[1:6]',
      'key = base64.b64decode(secret.removeprefix("whsec_"))',
      'mac = hmac.new(key, f"{msg_id}.{ts}.{body}".encode(), hashlib.sha256).digest()',
      'ok = any(hmac.compare_digest("v1," + base64.b64encode(mac).decode(), s) for s in sig.split(" "))',
      'print("valid" if ok else "invalid")',
    ].join('\n');
    const h = second.headers;
    const { stdout } = await run('python3', [
      '-c',
      python,
      sub.secret,
      String(h['webhook-id']),
      String(h['webhook-timestamp']),
      String(h['webhook-signature']),
      second.body,
    ]);
    expect(stdout.trim()).toBe('valid');
    // The delivery log has both, delivered at the first attempt.
    const log = await recentDeliveries(p.db, { partner: 'acme' });
    expect(log.map((d) => [d.version, d.attempt, d.statusCode, d.status])).toEqual([
      ['20261207T050000000Z-bbbbbbbb', 1, 204, 'delivered'],
      ['20261207T040000000Z-aaaaaaaa', 1, 204, 'delivered'],
    ]);
    // Unsubscribed: the next version tells no one.
    const gone = await app().request(`http://127.0.0.1:8080/subscriptions/${sub.id}`, {
      method: 'DELETE',
      headers: { 'X-API-Key': acme.apiKey!.key },
    });
    expect(gone.status).toBe(204);
    expect((await publish('20261207T060000000Z-cccccccc', 12)).notified).toEqual({
      recorded: 0,
      outcomes: {},
    });
  });

  it('retries with backoff, keeps a notification a stopped deliverer held, and disables after failures in a row', async () => {
    // Prepare: a receiver that fails every time, and a clock the test moves
    const hook = await receiver(Array(100).fill(500));
    const res = await subscribe(other.apiKey!.key, { url: hook.url, products: [PRODUCT] });
    const sub = (await res.json()) as { id: string };
    let now = new Date('2027-01-01T00:00:00Z');
    const options = { now: () => now, backoff: (n: number) => 1000 * 2 ** (n - 1), maxAttempts: 3 };
    const versions = [
      '20261208T010000000Z-dddddddd',
      '20261208T020000000Z-eeeeeeee',
      '20261208T030000000Z-ffffffff',
    ];
    // A deliverer claims the first notification and stops before trying it (serve killed mid-delivery).
    await publish(versions[0]!, 1);
    now = new Date(Date.now() + 1000);
    expect((await claimDue(p.db, now, 60_000)).map((d) => d.id)).toEqual([
      notificationId(sub.id, PRODUCT, versions[0]!),
    ]);
    expect(await deliverDue(p.db, options)).toBe(0);
    // Act: after the lease, it is claimed again; each notification is tried 3 times, 1 s then 2 s apart
    now = new Date(now.getTime() + 61_000);
    for (const [i, version] of versions.entries()) {
      if (i > 0) await publish(version, 1);
      for (let attempt = 0; attempt < 3; attempt++) {
        expect(await deliverDue(p.db, options)).toBe(1);
        // Not due again before its backoff has passed.
        expect(await deliverDue(p.db, options)).toBe(0);
        now = new Date(now.getTime() + 1000 * 2 ** attempt);
      }
      now = new Date(Math.max(now.getTime(), Date.now()) + 1000);
    }
    hook.server.close();
    // Assess
    expect(hook.got).toHaveLength(9);
    expect(await notificationStatus(p.db, notificationId(sub.id, PRODUCT, versions[0]!))).toEqual({
      status: 'failed',
      attempts: 3,
    });
    const log = await recentDeliveries(p.db, { subscriptionId: sub.id, limit: 100 });
    expect(log).toHaveLength(9);
    expect(log.every((d) => d.statusCode === 500 && d.error === 'HTTP 500')).toBe(true);
    const [listed] = await listSubscriptions(p.db, 'other');
    expect(listed?.consecutiveFailures).toBe(DISABLE_AFTER_FAILURES);
    expect(listed?.disabledReason).toContain('3 notifications in a row could not be delivered');
    // Disabled: a new version is not even recorded for it.
    expect((await publish('20261208T040000000Z-99999999', 1)).notified).toEqual({
      recorded: 0,
      outcomes: {},
    });
  });

  it('counts what EventBridge dead-lettered towards disabling, once per notification, on AWS', async () => {
    // Prepare: a sender that hands off as EventBridge does, and a subscription of a partner of its own
    const handed: string[] = [];
    const eventbridge: NotificationSender = {
      delivers: 'eventbridge',
      provision: async () => {},
      retire: async () => {},
      send: async (ns) =>
        ns.map((n) => {
          handed.push(n.id);
          return { id: n.id, outcome: 'handed-off' as const, detail: 'event e' };
        }),
    };
    const aws = partners.add('aws_partner', ['read:products/county_places'], 10_000);
    const res = await subscribe(aws.apiKey!.key, { url: 'https://localhost/aws', products: [PRODUCT] });
    const sub = (await res.json()) as { id: string };
    const onAws = { ...p, notifications: eventbridge };
    const log = { info: () => {}, warn: () => {} };
    const dead = (id: string) => ({
      id: `m-${id}`,
      body: JSON.stringify({
        source: 'strata.partner-notifications',
        detail: { subscription: sub.id, webhookId: id },
      }),
      errorCode: 'SDK_CLIENT_ERROR',
      errorMessage: 'Unable to invoke ApiDestination endpoint: 503',
    });
    // Act
    for (const v of [
      '20261209T010000000Z-11111111',
      '20261209T020000000Z-22222222',
      '20261209T030000000Z-33333333',
    ]) {
      const r = await submit(p, { kind: 'build', product: PRODUCT }, { kind: 'cli' });
      const published = await publishVersion(onAws, catalog, manifest(v, r.id, 1));
      expect(published.notified).toMatchObject({ outcomes: { 'handed-off': 1 } });
    }
    const mine = handed.filter((id) => id.startsWith('msg_')).slice(-3);
    const first = await onNotificationDeadLetters([dead(mine[0]!), dead(mine[0]!)], { db: p.db, log });
    const rest = await onNotificationDeadLetters(
      [dead(mine[1]!), dead(mine[2]!), { id: 'x', body: 'no json' }],
      {
        db: p.db,
        log,
      },
    );
    // Assess: the duplicate counted once; the third disabled the subscription
    expect(first).toEqual([mine[0]]);
    expect(rest).toEqual([mine[1], mine[2]]);
    const [listed] = await listSubscriptions(p.db, 'aws_partner');
    expect(listed?.disabledAt).not.toBeNull();
    expect(listed?.disabledReason).toContain('EventBridge gave up: SDK_CLIENT_ERROR');
    const attempts = await recentDeliveries(p.db, { subscriptionId: sub.id, limit: 10 });
    expect(attempts.map((a) => [a.attempt, a.status, a.error?.slice(0, 19) ?? null]).sort()).toEqual([
      [1, 'failed', null],
      [1, 'failed', null],
      [1, 'failed', null],
      [2, 'failed', 'EventBridge gave up'],
      [2, 'failed', 'EventBridge gave up'],
      [2, 'failed', 'EventBridge gave up'],
    ]);
  });

  it("shows the console's operator every subscription and the latest deliveries", async () => {
    const console = testApp({
      catalog,
      store: p.store,
      runs: p.runs,
      queue: p.queue,
      partners,
      subscriptions: { db: p.db, sender: new OutboxSender(), callbacks: { local: true } },
      local: { webhookSecrets: new Map(), operatorsOnLoopback: true },
    });
    const res = await console.request('http://127.0.0.1:8787/console/notifications', {
      headers: { host: '127.0.0.1:8787' },
    });
    expect(res.status).toBe(200);
    const page = await res.text();
    const [disabled] = await listSubscriptions(p.db, 'other');
    expect(page).toContain(`data-subscription="${disabled!.id}"`);
    expect(page).toContain('3 notifications in a row could not be delivered');
    expect(page).toMatch(
      /<td>other<\/td>\s*<td>county_places <code>20261208T030000000Z-ffffffff<\/code><\/td><td class="num">3<\/td>/,
    );
    expect(page).not.toContain('whsec_');
  });

  it('is delivered by strata serve, also what was published while serve was stopped', async () => {
    // Prepare: serve with its own HTTP server, and a partner subscribing through it
    const hook = await receiver();
    const start = () =>
      serve(p, catalog, {
        port: 0,
        workers: 0,
        pollMs: 100,
        maxUploadBytes: 1024,
        quietMs: 500,
        webhookSecrets: new Map(),
        staleSeconds: 600,
        partners,
        log: () => {},
      });
    const listener = partners.add('listener', ['read:products/county_places'], 10_000);
    let serving: Serving = await start();
    const res = await fetch(`http://127.0.0.1:${serving.port}/subscriptions`, {
      method: 'POST',
      headers: { 'X-API-Key': listener.apiKey!.key, 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: hook.url, products: [PRODUCT] }),
    });
    expect(res.status).toBe(201);
    const sub = (await res.json()) as { id: string; secret: string };
    try {
      // Act: one version published while serve runs, one while it is stopped
      await publish('20261210T010000000Z-aaaa0001', 5);
      await until('the notification while serving', () => hook.got.length === 1, 60_000);
      await serving.stop();
      await publish('20261210T020000000Z-aaaa0002', 6);
      expect(
        await notificationStatus(p.db, notificationId(sub.id, PRODUCT, '20261210T020000000Z-aaaa0002')),
      ).toEqual({
        status: 'pending',
        attempts: 0,
      });
      serving = await start();
      await until('the notification kept while serve was stopped', () => hook.got.length === 2, 60_000);
    } finally {
      await serving.stop();
      hook.server.close();
    }
    // Assess: both verify, in order
    const versions = hook.got.map((g) => {
      const body = new Webhook(sub.secret).verify(g.body, g.headers as Record<string, string>);
      return PublishNotification.parse(body).data.version;
    });
    expect(versions).toEqual(['20261210T010000000Z-aaaa0001', '20261210T020000000Z-aaaa0002']);
  });

  it('serves the subscription routes through the Lambda adapter, with links on the stage', async () => {
    const headers = { 'X-API-Key': acme.apiKey!.key, 'Content-Type': 'application/json' };
    const created = await handleEvent(
      app(),
      gatewayEvent(
        'POST',
        '/subscriptions',
        headers,
        JSON.stringify({ url: 'https://localhost/h', products: [PRODUCT] }),
      ),
    );
    expect(created.statusCode).toBe(201);
    const sub = JSON.parse(created.body) as { id: string; links: { rel: string; href: string }[] };
    expect(sub.links[0]?.href).toBe(
      `https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/v1/subscriptions/${sub.id}`,
    );
    const deliveries = await handleEvent(
      app(),
      gatewayEvent('GET', `/subscriptions/${sub.id}/deliveries`, headers),
    );
    expect(deliveries.statusCode).toBe(200);
    expect(JSON.parse(deliveries.body)).toEqual([]);
    const otherSees = await handleEvent(
      app(),
      gatewayEvent('DELETE', `/subscriptions/${sub.id}`, { 'X-API-Key': other.apiKey!.key }),
    );
    expect(otherSees.statusCode).toBe(404);
  });
});
