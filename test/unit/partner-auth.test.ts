import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Hawk from 'hawk';
import { beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../runtime/adapters/local/fs-object-store.ts';
import { MemoryNonceStore } from '../../runtime/adapters/local/memory-guards.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { revokeKey } from '../../runtime/partners/admin.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import {
  gridPoints,
  type HawkCredentials,
  hawkFetch,
  hawkOf,
  MemoryDirectory,
  noDatabase,
  PARTNER_CATALOG,
  publishVersion,
  testApp,
  verifyResponse,
} from '../helpers/partner-api.ts';

const BASE = 'http://127.0.0.1:8787';

describe('partner authentication: Hawk and API keys', () => {
  let catalog: Catalog;
  let store: FsObjectStore;
  const partners = new MemoryDirectory();
  const acme = partners.add('acme', ['read:products/*', 'upload:datasets/roads']);
  const creds = hawkOf(acme);
  let app: ReturnType<typeof testApp>;
  const fetcher = (url: string, init: RequestInit) => app.request(url, init);
  const get = (path: string, c: HawkCredentials = creds, init = {}) =>
    hawkFetch(fetcher, c, `${BASE}${path}`, init);

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-auth-'));
    catalog = await writeCatalog(join(dir, 'catalog'), PARTNER_CATALOG);
    store = new FsObjectStore(join(dir, 'buckets'));
    await publishVersion(store, 'places', 'v1', { points: gridPoints(30) });
    app = testApp({
      catalog,
      store,
      partners,
      runs: noDatabase,
      queue: noDatabase,
    });
  });

  it('answers a good request, and signs the response so the client can check it', async () => {
    // Act
    const r = await get('/products/places/latest');
    // Assess
    expect(r.res.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ product: 'places', version: 'v1' });
    expect(r.verified).toBe(true);
  });

  it('refuses a wrong key, an unknown id, and a clock 61 seconds off, but takes one 59 seconds off', async () => {
    // Act
    const wrongKey = await get('/products', { ...creds, key: 'x'.repeat(43) });
    const wrongId = await get('/products', { ...creds, id: 'acme.00000000' });
    const late = await get('/products', creds, { localtimeOffsetMsec: -61_000 });
    const early = await get('/products', creds, { localtimeOffsetMsec: 61_000 });
    const withinSkew = await get('/products', creds, { localtimeOffsetMsec: -59_000 });
    // Assess
    for (const r of [wrongKey, wrongId, late, early]) {
      expect(r.res.status).toBe(401);
      expect(r.res.headers.get('content-type')).toBe('application/problem+json');
    }
    expect(JSON.parse(wrongKey.text).detail).toMatch(/Bad mac/);
    expect(JSON.parse(wrongId.text).detail).toMatch(/Unknown credentials/);
    expect(JSON.parse(late.text).detail).toMatch(/Stale timestamp/);
    // The stale-timestamp challenge carries the server's time, signed, so a client can correct its clock.
    expect(late.res.headers.get('www-authenticate')).toMatch(/ts="\d+", tsm="/);
    expect(withinSkew.res.status).toBe(200);
  });

  it('refuses a nonce seen before', async () => {
    // Act: the same nonce twice within the window.
    const first = await get('/products', creds, { nonce: 'n-once-only' });
    const replay = await get('/products', creds, { nonce: 'n-once-only' });
    // Assess
    expect(first.res.status).toBe(200);
    expect(replay.res.status).toBe(401);
    expect(JSON.parse(replay.text).detail).toMatch(/Invalid nonce/);
  });

  it('refuses a body that is not the one signed, and a body sent with no payload hash', async () => {
    // Prepare: a signed upload request, then its body changed on the way.
    const url = `${BASE}/datasets/roads/uploads`;
    const body = JSON.stringify({ filename: 'roads.csv', size: 100 });
    const { header } = Hawk.client.header(url, 'POST', {
      credentials: creds,
      payload: body,
      contentType: 'application/json',
    });
    const noHash = Hawk.client.header(url, 'POST', { credentials: creds });

    // Act
    const tampered = await app.request(url, {
      method: 'POST',
      headers: { Authorization: header, 'Content-Type': 'application/json' },
      body: body.replace('100', '999'),
    });
    const unhashed = await app.request(url, {
      method: 'POST',
      headers: { Authorization: noHash.header, 'Content-Type': 'application/json' },
      body,
    });
    const good = await hawkFetch(fetcher, creds, url, { method: 'POST', body });

    // Assess
    expect(tampered.status).toBe(401);
    expect(JSON.parse(await tampered.text()).detail).toMatch(/Bad payload hash/);
    expect(unhashed.status).toBe(401);
    expect(JSON.parse(await unhashed.text()).detail).toMatch(/Missing required payload hash/);
    expect(good.res.status).toBe(201);
    expect(good.verified).toBe(true);
  });

  it('lets the client detect a response changed on the way', async () => {
    // Prepare
    const url = `${BASE}/products/places/latest`;
    const { header, artifacts } = Hawk.client.header(url, 'GET', { credentials: creds });
    const res = await app.request(url, { headers: { Authorization: header } });
    const text = await res.text();
    // Act: the body as a tamperer would change it, and the header as another response's.
    const changedBody = verifyResponse(res, text.replace('"v1"', '"v2"'), creds, artifacts);
    const intact = verifyResponse(res, text, creds, artifacts);
    // Assess
    expect(intact).toBe(true);
    expect(changedBody).toBe(false);
  });

  it('refuses rather than risk a replay when the nonce store cannot answer', async () => {
    // Prepare: an app whose nonce store is down.
    const down = testApp({
      catalog,
      store,
      partners,
      runs: noDatabase,
      queue: noDatabase,
      nonces: {
        remember: () => Promise.reject(new Error('DynamoDB unreachable')),
        remembers: () => Promise.reject(new Error('DynamoDB unreachable')),
      },
    });
    // Act
    const r = await hawkFetch((u, i) => down.request(u, i), creds, `${BASE}/products`);
    // Assess
    expect(r.res.status).toBe(503);
    expect(r.res.headers.get('retry-after')).toBe('1');
    expect(JSON.parse(r.text).detail).toMatch(/replay protection is unavailable/);
  });

  it('takes an API key as a bearer token or in X-API-Key, and refuses it once revoked, with no restart', async () => {
    // Prepare: a second API key, so one can be revoked while the first still works.
    const key = acme.apiKey!.key;
    // Act
    const bearer = await app.request(`${BASE}/products`, { headers: { Authorization: `Bearer ${key}` } });
    const header = await app.request(`${BASE}/products`, { headers: { 'X-API-Key': key } });
    const none = await app.request(`${BASE}/products`);
    const mistyped = await app.request(`${BASE}/products`, {
      headers: { 'X-API-Key': `${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}` },
    });
    await partners.update((doc) => revokeKey(doc, 'acme', acme.apiKey!.id));
    const revoked = await app.request(`${BASE}/products`, { headers: { 'X-API-Key': key } });
    // Assess
    expect(bearer.status).toBe(200);
    expect(header.status).toBe(200);
    expect(bearer.headers.get('server-authorization')).toBeNull();
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Hawk, Bearer, Basic realm="strata"');
    expect(mistyped.status).toBe(401);
    expect(revoked.status).toBe(401);
    expect(JSON.parse(await revoked.text()).detail).toMatch(/not valid/);
  });

  it("limits each partner's requests a second, and says when to come back", async () => {
    // Prepare: a partner allowed two requests a second and two at once, on a clock that does not move.
    const slow = partners.add('slow', ['read:products/*'], 2, 2);
    const now = 1_800_000_000_000;
    const limited = testApp({
      catalog,
      store,
      partners,
      runs: noDatabase,
      queue: noDatabase,
      rateLimiter: new (await import('../../runtime/adapters/local/memory-guards.ts')).MemoryRateLimiter(
        () => now,
      ),
      nonces: new MemoryNonceStore(),
    });
    const call = () => limited.request(`${BASE}/products`, { headers: { 'X-API-Key': slow.apiKey!.key } });
    // Act
    const statuses = [(await call()).status, (await call()).status];
    const third = await call();
    // Assess
    expect(statuses).toEqual([200, 200]);
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('1');
  });
});
