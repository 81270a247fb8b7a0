// The partner portal through the one HTTP application, on both engines: signing in, that each partner's staff
// see only what their partner's scopes allow (another partner's datasets and products answer 403, and never
// appear), an upload from presigned URL to receipt, downloads, and the probes the console's pages pass (forged
// forms, open redirects, markup in file names and receipt values). What a person sees is in
// test/browser/portal.test.ts.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import { revokeKey } from '../../runtime/partners/admin.ts';
import { PORTAL_SCRIPT } from '../../runtime/portal/client-script.ts';
import { IngressWatcher } from '../../runtime/serve/ingress-watcher.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import {
  gridPoints,
  MemoryDirectory,
  PARTNER_CATALOG,
  publishVersion,
  testApp,
} from '../helpers/partner-api.ts';

const BASE = 'http://127.0.0.1:8787';
interface Target {
  uploadId: string;
  url: string;
  headers: Record<string, string>;
  page: string;
}
const detail = async (res: Response) => ((await res.json()) as { detail: string }).detail;
const formToken = (page: string) => /name="form" value="([^"]+)"/.exec(page)?.[1] ?? '';

describe.each(engines())('the partner portal on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  let app: ReturnType<typeof testApp>;
  const partners = new MemoryDirectory();
  const acme = partners.add('acme', [
    'read:products/places',
    'upload:datasets/roads',
    'upload:datasets/acme_counts',
  ]);
  const beta = partners.add('beta', ['read:products/secret_sites', 'upload:datasets/*']);
  const ops = partners.add('ops', ['operator']);

  const request = (path: string, init: RequestInit & { cookie?: string } = {}) =>
    app.request(`${BASE}${path}`, {
      redirect: 'manual',
      ...init,
      headers: {
        ...(init.cookie ? { cookie: init.cookie } : {}),
        ...(init.headers as Record<string, string>),
      },
    });
  const post = (path: string, fields: Record<string, string>, cookie?: string, headers = {}) =>
    request(path, {
      method: 'POST',
      cookie,
      headers: { origin: BASE, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  /** Signs in with the key as a browser does: the form's page, then the form. */
  async function signIn(key: string, next?: string): Promise<{ res: Response; cookie: string }> {
    const form = formToken(await (await request('/portal/login')).text());
    const res = await post('/portal/login', { form, key, ...(next !== undefined ? { next } : {}) });
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    return { res, cookie };
  }
  const page = async (path: string, cookie: string) => (await request(path, { cookie })).text();
  /** A presigned upload as the page's script asks for it: JSON, the page's form token, from our origin. */
  async function askUpload(
    cookie: string,
    dataset: string,
    file: { filename: string; size: number },
    headers = {},
  ) {
    const token = formToken(await page(`/portal/datasets/${dataset}`, cookie));
    return request(`/portal/datasets/${dataset}/uploads`, {
      method: 'POST',
      cookie,
      headers: { origin: BASE, 'content-type': 'application/json', 'x-portal-form': token, ...headers },
      body: JSON.stringify(file),
    });
  }
  /** Sends a file as the page does, lets `strata serve`'s watcher and worker ingest it, and reads its page. */
  async function upload(cookie: string, dataset: string, filename: string, data: string) {
    const asked = await askUpload(cookie, dataset, { filename, size: Buffer.byteLength(data) });
    const target = (await asked.json()) as Target;
    const put = await app.request(target.url, { method: 'PUT', headers: target.headers, body: data });
    expect(put.status).toBe(200);
    const waiting = await page(target.page, cookie);
    const watcher = new IngressWatcher(p, catalog, { maxBytes: 1 << 30, quietMs: 0 }, () => {});
    await watcher.poll();
    await watcher.poll();
    const runId = /data-run="([^"]+)"/.exec(await page(target.page, cookie))?.[1];
    await workUntil(p, catalog, runId!, {}, 50);
    return { target, waiting, done: await page(target.page, cookie) };
  }

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await writeCatalog(join(p.dir, 'catalog'), PARTNER_CATALOG);
    await publishVersion(p.store, 'places', 'v1', { points: gridPoints(25) });
    await publishVersion(p.store, 'secret_sites', 'v1', { sites: gridPoints(5) });
    app = testApp({
      catalog,
      store: p.store,
      partners,
      runs: p.runs,
      queue: p.queue,
      local: { webhookSecrets: new Map(), operatorsOnLoopback: false },
      // These tests sign in more often than the ten sign-ins a second allowed for everyone; that limit is not
      // what they look at.
      rateLimiter: { take: async () => true },
    });
  }, 300_000);
  afterAll(async () => p?.close());

  it('sends a browser without a session to sign in, and the partner API credentials open no page', async () => {
    // Act
    const bare = await request('/portal/products?x=1');
    const withKey = await request('/portal', { headers: { 'x-api-key': acme.apiKey!.key } });
    const post = await request('/portal/datasets/roads/uploads', { method: 'POST' });
    // Assess
    expect(bare.status).toBe(303);
    expect(bare.headers.get('location')).toBe(
      `/portal/login?next=${encodeURIComponent('/portal/products?x=1')}`,
    );
    expect(withKey.status).toBe(303);
    expect(post.status).toBe(401);
  });

  it('signs in with an API key into a cookie as strict as the console’s, and refuses a wrong key', async () => {
    // Act
    const { res, cookie } = await signIn(acme.apiKey!.key);
    const wrong = await signIn('not-a-key');
    const home = await page('/portal', cookie);
    // Assess
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/portal');
    expect(res.headers.get('set-cookie')).toMatch(
      /^strata_portal=[^;]+; Max-Age=28800; Path=\/portal; HttpOnly; SameSite=Strict$/,
    );
    expect(wrong.res.status).toBe(401);
    expect(await wrong.res.text()).toContain('that API key is not valid');
    expect(home).toContain('Signed in for <strong>acme</strong>');
  });

  it("shows each partner's staff only what the partner's scopes allow, and another partner's data nowhere", async () => {
    // Prepare
    const a = (await signIn(acme.apiKey!.key)).cookie;
    const b = (await signIn(beta.apiKey!.key)).cookie;
    // Act
    const acmeHome = await page('/portal', a);
    const betaHome = await page('/portal', b);
    const hidden = await Promise.all(
      [
        '/portal/products/secret_sites',
        '/portal/products/secret_sites/versions/v1/outputs/sites?format=csv',
        '/portal/products/secret_sites/versions/v1/map',
        '/portal/datasets/rivers',
      ].map((path) => request(path, { cookie: a })),
    );
    const notTheirs = await request('/portal/datasets/acme_counts', { cookie: b });
    const askHidden = await askUpload(a, 'roads', { filename: 'x.csv', size: 3 });
    const askRivers = await request('/portal/datasets/rivers/uploads', {
      method: 'POST',
      cookie: a,
      headers: { origin: BASE, 'content-type': 'application/json', 'x-portal-form': formToken(acmeHome) },
      body: JSON.stringify({ filename: 'x.csv', size: 3 }),
    });
    // Assess
    expect(acmeHome).toContain('/portal/datasets/roads"');
    expect(acmeHome).toContain('/portal/datasets/acme_counts"');
    expect(acmeHome).toContain('/portal/products/places"');
    expect(acmeHome).not.toMatch(/rivers|secret_sites/);
    expect(betaHome).toContain('/portal/datasets/rivers"');
    expect(betaHome).toContain('/portal/products/secret_sites"');
    expect(betaHome).not.toMatch(/acme_counts|places/);
    expect(hidden.map((r) => r.status)).toEqual([403, 403, 403, 403]);
    for (const r of hidden) expect(await r.text()).not.toContain('Sites');
    expect(notTheirs.status).toBe(403);
    expect(askHidden.status).toBe(201);
    expect(askRivers.status).toBe(403);
    expect(await detail(askRivers)).toMatch(/do not allow you to upload to datasets\/rivers/);
  });

  it('serves every page under a policy that allows its own script and style only, and nothing cached', async () => {
    // Prepare
    const a = (await signIn(acme.apiKey!.key)).cookie;
    // Act
    const answers = await Promise.all(
      [
        '/portal',
        '/portal/datasets',
        '/portal/datasets/roads',
        '/portal/products',
        '/portal/products/places',
        '/portal/nowhere',
      ].map((path) => request(path, { cookie: a })),
    );
    // Assess
    const scriptHash = `'sha256-${createHash('sha256').update(PORTAL_SCRIPT).digest('base64')}'`;
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 404]);
    for (const r of answers) {
      const csp = r.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain(`script-src ${scriptHash}`);
      expect(csp).toContain("connect-src 'self';");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(await r.text()).not.toMatch(/(src|href)="https?:/);
    }
  });

  it('takes a file by a presigned upload and shows its receipt, then lists it with the past uploads', async () => {
    // Prepare
    const a = (await signIn(acme.apiKey!.key)).cookie;
    // Act
    const { target, waiting, done } = await upload(
      a,
      'roads',
      'roads may.csv',
      'id,name\n10,Station Road\n11,Church Lane\n',
    );
    const list = await page('/portal/datasets/roads', a);
    // Assess
    expect(target.url).toContain('/_local/uploads/');
    expect(target.headers['Content-Type']).toBe('text/csv');
    expect(waiting).toContain('data-watch-status="waiting"');
    expect(done).toContain('data-watch-status="succeeded"');
    expect(done).toContain('<h2>Receipt</h2>');
    expect(done).toContain('badge ok">accepted<');
    expect(done).toMatch(/<dt>Rows<\/dt><dd>2<\/dd>/);
    expect(done).toContain(
      '<dt>Columns</dt><dd><code>id</code> <span class="muted">integer</span>, <code>name</code>',
    );
    expect(list).toContain(`/portal/datasets/roads/uploads/${target.uploadId}"`);
    expect(list).toMatch(/badge ok">accepted<[\s\S]*2 rows/);
  });

  it('shows a refused file with every problem and its lines, and markup in names and values as text', async () => {
    // Prepare: a value that is markup, in a column that takes integers.
    const a = (await signIn(acme.apiKey!.key)).cookie;
    const data = 'id,name\n1,ok\n<script>alert(1)</script>,bad\nthree,<img src=x onerror=alert(2)>\n';
    // Act
    const { done } = await upload(a, 'roads', '<img src=x onerror=alert(3)>.csv', data);
    // Assess
    expect(done).toMatch(/badge (warn|bad)">(quarantined|refused)</);
    expect(done).toContain('<code>type</code>');
    expect(done).toContain('line 3');
    expect(done).toContain('line 4');
    expect(done).not.toContain('<script>alert');
    expect(done).not.toContain('<img src=x');
    expect(done).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('downloads a readable file by a short-lived URL', async () => {
    // Prepare
    const a = (await signIn(acme.apiKey!.key)).cookie;
    // Act
    const product = await page('/portal/products/places', a);
    const res = await request('/portal/products/places/versions/v1/outputs/points?format=csv', { cookie: a });
    const file = await app.request(res.headers.get('location')!);
    // Assess
    expect(product).toContain('<code id="ogc-api">http://127.0.0.1:8787</code>');
    expect(product).toContain('<code>places.points</code>');
    expect(product).toContain('points.csv<span class="vh"> of places v1</span>');
    expect(res.status).toBe(302);
    expect((await file.text()).split('\n')[0]).toBe('id,name,lon,lat');
  });

  it('refuses forged forms: another origin, no token, another session’s token', async () => {
    // Prepare
    const a = (await signIn(acme.apiKey!.key)).cookie;
    const b = (await signIn(beta.apiKey!.key)).cookie;
    const betaToken = formToken(await page('/portal', b));
    // Act
    const crossSite = await askUpload(
      a,
      'roads',
      { filename: 'x.csv', size: 3 },
      { origin: 'https://evil.example' },
    );
    const noToken = await askUpload(a, 'roads', { filename: 'x.csv', size: 3 }, { 'x-portal-form': '' });
    const othersToken = await askUpload(
      a,
      'roads',
      { filename: 'x.csv', size: 3 },
      { 'x-portal-form': betaToken },
    );
    const logout = await post('/portal/logout', { form: betaToken }, a);
    // Assess
    for (const r of [crossSite, noToken, othersToken]) expect(r.status).toBe(403);
    expect(await detail(crossSite)).toMatch(/portal's own pages/);
    expect(logout.status).toBe(403);
  });

  it('returns only to portal paths after signing in: no open redirect, no header splitting', async () => {
    // Prepare
    const { res, cookie } = await signIn(acme.apiKey!.key, '//evil.example/x');
    // Act: the sign-in page sends who is signed in already on to `next`, through the same check.
    const targets = await Promise.all(
      [
        '/portal/products',
        '//evil.example/x',
        'https://evil.example/',
        '/\\evil.example',
        '/console',
        '/portalx',
      ].map(async (next) =>
        (await request(`/portal/login?next=${encodeURIComponent(next)}`, { cookie })).headers.get('location'),
      ),
    );
    const split = await request(`/portal/login?next=${encodeURIComponent('/portal\r\nSet-Cookie: x=1')}`);
    // Assess
    expect(res.headers.get('location')).toBe('/portal');
    expect(targets).toEqual(['/portal/products', '/portal', '/portal', '/portal', '/portal', '/portal']);
    expect(split.status).toBe(400);
  });

  it('keeps the console and the portal apart, and ends a session on sign-out and on a revoked key', async () => {
    // Prepare
    const opsPortal = (await signIn(ops.apiKey!.key)).cookie;
    const form = formToken(await (await request('/console/login')).text());
    const consoleCookie = (
      (await post('/console/login', { form, key: ops.apiKey!.key })).headers.get('set-cookie') ?? ''
    ).split(';')[0]!;
    const kept = partners.add('gamma', ['read:products/places']);
    const gamma = (await signIn(kept.apiKey!.key)).cookie;
    const leaving = (await signIn(acme.apiKey!.key)).cookie;
    // Act
    const portalCookieInConsole = await request('/console/runs', {
      cookie: opsPortal.replace('strata_portal', 'strata_console'),
    });
    const consoleCookieInPortal = await request('/portal', {
      cookie: consoleCookie.replace('strata_console', 'strata_portal'),
    });
    const out = await post('/portal/logout', { form: formToken(await page('/portal', leaving)) }, leaving);
    const afterOut = await request('/portal', { cookie: leaving });
    partners.doc = revokeKey(partners.doc, 'gamma', kept.apiKey!.id);
    const afterRevoke = await request('/portal', { cookie: gamma });
    // Assess
    expect(consoleCookie).toMatch(/^strata_console=/);
    expect(portalCookieInConsole.status).toBe(303);
    expect(consoleCookieInPortal.status).toBe(303);
    expect(out.status).toBe(303);
    expect(afterOut.status).toBe(303);
    expect(afterRevoke.status).toBe(303);
  });
});
