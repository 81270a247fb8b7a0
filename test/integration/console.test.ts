// The console through the one HTTP application, on a home made by the normal paths: what each page says, that
// reads of datasets and products never touch the database, that retry and release do what the command line
// does, and that forms and sessions hold against forgery. What a person sees is in test/browser/console.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TableJobQueue } from '../../runtime/adapters/local/table-job-queue.ts';
import { CONSOLE_CSP } from '../../runtime/console/layout.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import { revokeKey } from '../../runtime/partners/admin.ts';
import { readLatest } from '../../runtime/publish/versions.ts';
import { RunRegistry } from '../../runtime/runs/registry.ts';
import type { Door } from '../../runtime/web/door.ts';
import { type ConsoleHome, consoleHome } from '../helpers/console.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { countingDatabase, MemoryDirectory, noDatabase, testApp } from '../helpers/partner-api.ts';

const LOCAL = 'http://127.0.0.1:8787';

/** The hidden form token of the first form on a page (every console form carries one). */
const formToken = (page: string) => /name="form" value="([^"]+)"/.exec(page)?.[1] ?? '';
const formBody = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe.each(engines())('the console on $name', (engine) => {
  let p: TestPlatform;
  let home: ConsoleHome;
  let counted: ReturnType<typeof countingDatabase>;
  let app: ReturnType<typeof testApp>;
  const partners = new MemoryDirectory();

  const get = (path: string, headers: Record<string, string> = {}) =>
    app.request(`${LOCAL}${path}`, { headers: { host: '127.0.0.1:8787', ...headers }, redirect: 'manual' });
  const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    app.request(`${LOCAL}${path}`, {
      method: 'POST',
      headers: {
        host: '127.0.0.1:8787',
        origin: LOCAL,
        'content-type': 'application/x-www-form-urlencoded',
        ...headers,
      },
      body: formBody(fields),
      redirect: 'manual',
    });

  beforeAll(async () => {
    p = await testPlatform(engine);
    home = await consoleHome(p);
    counted = countingDatabase(p.db);
    app = testApp({
      catalog: home.catalog,
      store: p.store,
      partners,
      runs: new RunRegistry(counted),
      queue: new TableJobQueue(counted),
      local: { webhookSecrets: new Map(), operatorsOnLoopback: true },
    });
  }, 300_000);
  afterAll(async () => p?.close());

  it('reads datasets, products, versions, QA reports and downloads without one database call', async () => {
    // Prepare
    counted.calls.length = 0;
    const latest = (await readLatest(p.store, 'site_list'))!;
    const reads = [
      '/console',
      '/console/datasets',
      '/console/datasets/sites',
      '/console/datasets/regions',
      '/console/products',
      '/console/products/site_list',
      '/console/products/site_regions',
      `/console/products/site_list/versions/${latest.version}/qa`,
    ];
    // Act
    const answers = await Promise.all(reads.map(async (path) => ({ path, res: await get(path) })));
    const download = await get(
      `/console/products/site_list/versions/${latest.version}/outputs/sites_out?format=csv`,
    );
    // Assess
    expect(answers.map((a) => [a.path, a.res.status])).toEqual(reads.map((path) => [path, 200]));
    expect(download.status).toBe(302);
    const file = await app.request(download.headers.get('location')!);
    expect((await file.text()).split('\n')[0]).toBe('id,name,visits,geometry');
    expect(counted.calls).toEqual([]);
  });

  it("shows a dataset's versions with the current one marked, its history, and the quarantined file's receipt", async () => {
    // Act
    const page = await (await get('/console/datasets/sites')).text();
    // Assess
    const [v1, v2] = home.ingests.map((r) => String(r.result?.version));
    expect(page).toContain(`<code>${v2}</code> <span class="badge info">current</span>`);
    expect(page).not.toContain(`<code>${v1}</code> <span class="badge info">current</span>`);
    expect(page.match(/<td>sent<\/td>/g)).toHaveLength(2);
    const quarantine = page.slice(page.indexOf('id="quarantine"'));
    expect(quarantine).toContain('sites-3.csv');
    expect(quarantine).toContain('2 kind(s) of problem');
    expect(quarantine).toMatch(/<code>bbox<\/code><\/td><td>[^<]*<\/td>\s*<td class="num">2<\/td>/);
    expect(quarantine).toContain('<code>fewer_rows</code>');
    expect(quarantine).toContain('Reason for releasing sites-3.csv');
  });

  it('lists the runs with their statuses, and shows a run with its attempts, cause, receipt and cost', async () => {
    // Act
    const list = await (await get('/console/runs')).text();
    const failed = await (await get(`/console/runs/${home.failed.id}`)).text();
    const refused = await (await get(`/console/runs/${home.quarantined.id}`)).text();
    // Assess
    expect(list.match(/<tr data-run=/g)).toHaveLength(7);
    expect(list).toContain(`<tr data-run="${home.failed.id}">`);
    expect(list.match(/class="badge bad">failed</g)).toHaveLength(2);
    expect(list.match(/class="badge ok">succeeded</g)).toHaveLength(5);
    expect(failed).toContain('data-watch-status="failed"');
    expect(failed).toContain('dataset &quot;regions&quot; has no current version loaded yet');
    expect(failed).toContain('Retry this run');
    expect(failed).toContain('id="attempts"');
    expect(failed).toContain('id="cost"');
    expect(refused).toContain('<h2>Receipt</h2>');
    expect(refused).toContain('badge warn">quarantined<');
  });

  it('retries a failed run as `strata runs retry` does: the same run, queued again, which then succeeds', async () => {
    // Prepare
    const page = await (await get(`/console/runs/${home.failed.id}`)).text();
    // Act
    const res = await post(`/console/runs/${home.failed.id}/retry`, { form: formToken(page) });
    const queued = await (await get(res.headers.get('location')!.replace(LOCAL, ''))).text();
    const done = await workUntil(p, home.catalog, home.failed.id, {}, 50);
    const after = await (await get(`/console/runs/${home.failed.id}`)).text();
    // Assess
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/console/runs/${home.failed.id}?retry=queued`);
    expect(queued).toContain('Sent again');
    expect(queued).toContain('data-watch-status="queued"');
    expect(done).toMatchObject({ id: home.failed.id, status: 'succeeded', attempts: 2 });
    expect(after).toContain('data-watch-status="succeeded"');
    expect(after).toContain('sent again');
    expect(after).not.toContain('Retry this run');
  });

  it('releases a quarantined file with a reason, as `strata quarantine release` does', async () => {
    // Prepare
    const page = await (await get('/console/datasets/sites')).text();
    const id = String(
      home.quarantined.error?.receipt && (home.quarantined.error.receipt as { version: string }).version,
    );
    const request = /name="request" value="([^"]+)"/.exec(page)![1]!;
    // Act
    const res = await post(`/console/datasets/sites/quarantine/${id}/release`, {
      form: formToken(page),
      request,
      reason: 'fewer sites this season; the two far east are the new ferry ports',
    });
    const again = await post(`/console/datasets/sites/quarantine/${id}/release`, {
      form: formToken(page),
      request,
      reason: 'fewer sites this season; the two far east are the new ferry ports',
    });
    const runId = res.headers.get('location')!.split('/').pop()!;
    const done = await workUntil(p, home.catalog, runId, {}, 50);
    const after = await (await get('/console/datasets/sites')).text();
    // Assess
    expect(res.status).toBe(303);
    expect(again.headers.get('location')).toBe(res.headers.get('location'));
    expect(done).toMatchObject({ kind: 'ingest', target: 'sites', status: 'succeeded' });
    expect(done.trigger).toMatchObject({ kind: 'console', by: 'operator' });
    expect(done.result).toMatchObject({ version: id, released: `sites/${id}` });
    expect(after).toContain(`<code>${id}</code> <span class="badge info">current</span>`);
    expect(after).toContain('No file is waiting in quarantine.');
    expect(after).toContain('the two far east are the new ferry ports');
    expect(after).toContain('<td>released</td>');
  });

  it('refuses a form sent from another origin, or without its token, and changes nothing', async () => {
    // Prepare
    const page = await (await get('/console/datasets/sites')).text();
    const before = (await p.runs.list({ limit: 500 })).length;
    // Act
    const elsewhere = await post(
      `/console/runs/${home.quarantined.id}/retry`,
      { form: formToken(page) },
      { origin: 'https://evil.example' },
    );
    const noOrigin = await app.request(`${LOCAL}/console/runs/${home.quarantined.id}/retry`, {
      method: 'POST',
      headers: { host: '127.0.0.1:8787', 'content-type': 'application/x-www-form-urlencoded' },
      body: formBody({ form: formToken(page) }),
    });
    const noToken = await post(`/console/runs/${home.quarantined.id}/retry`, { form: 'x.y' });
    // Assess
    for (const res of [elsewhere, noOrigin, noToken]) {
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    }
    expect(await elsewhere.text()).toContain('must be sent from the console&#39;s own pages');
    expect((await p.runs.get(home.quarantined.id)).status).toBe('failed');
    expect((await p.runs.list({ limit: 500 })).length).toBe(before);
  });

  it('gives its pages a strict policy, and a QA report a sandbox of its own', async () => {
    // Act
    const overview = await get('/console');
    const latest = (await readLatest(p.store, 'site_list'))!;
    const report = await get(`/console/products/site_list/versions/${latest.version}/qa`);
    // Assess
    expect(overview.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).not.toContain('unsafe');
    expect(overview.headers.get('cache-control')).toBe('no-store');
    expect(report.headers.get('content-security-policy')).toMatch(/^sandbox allow-scripts;/);
    expect(await report.text()).toContain('Sites and their visits');
  });

  it('sends a QA report bigger than a response may carry (Lambda) as a short-lived URL to its file', async () => {
    // Prepare: an app with a limit smaller than the report, as the partner API function has one (about 2.9 MB, so that any text fits once escaped into Lambda's 6 MB of JSON).
    const limited = testApp({
      catalog: home.catalog,
      store: p.store,
      partners,
      runs: p.runs,
      queue: p.queue,
      local: { webhookSecrets: new Map(), operatorsOnLoopback: true },
      maxResponseBytes: 10_000,
    });
    const latest = (await readLatest(p.store, 'site_list'))!;
    const path = `/console/products/site_list/versions/${latest.version}/qa`;
    const whole = await (await get(path)).text();
    // Act
    const res = await limited.request(`${LOCAL}${path}`, {
      headers: { host: '127.0.0.1:8787' },
      redirect: 'manual',
    });
    const file = await limited.request(res.headers.get('location')!);
    // Assess
    expect(whole.length).toBeGreaterThan(10_000);
    expect(res.status).toBe(302);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe(whole);
  });

  it('gives the operator pass only to loopback names: a name rebound to 127.0.0.1 is sent to sign in', async () => {
    // Act
    const rebound = await get('/console/runs', { host: 'attacker.example:8787' });
    const localhost = await get('/console/runs', { host: 'localhost:8787' });
    // Assess
    expect(rebound.status).toBe(303);
    expect(rebound.headers.get('location')).toBe('/console/login?next=%2Fconsole%2Fruns');
    expect(localhost.status).toBe(200);
  });
});

describe('the console behind API Gateway, for operators signed in with an API key', () => {
  const partners = new MemoryDirectory();
  const ops = partners.add('ops', ['operator']);
  const acme = partners.add('acme', ['read:products/*']);
  const door: Door = {
    proto: 'https',
    host: 'api.example.org',
    port: 443,
    prefix: '/v1',
    targets: [],
  };
  const ORIGIN = 'https://api.example.org';
  const app = testApp({
    catalog: { dir: '', datasets: new Map(), products: new Map() },
    store: new (class {
      list = async () => [];
      exists = async () => false;
    })() as never,
    partners,
    runs: noDatabase,
    queue: noDatabase,
  });
  const call = (path: string, init: RequestInit = {}) =>
    app.request(`${ORIGIN}${path}`, { redirect: 'manual', ...init }, { door: { ...door, targets: [path] } });
  const signIn = async (key: string) => {
    const page = await (await call('/console/login?next=%2Fv1%2Fconsole%2Fdatasets')).text();
    return call('/console/login', {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: formBody({ form: formToken(page), key, next: '/v1/console/datasets' }),
    });
  };

  it('sends a browser with no session to sign in, under the stage path', async () => {
    // Act
    const res = await call('/console/datasets');
    // Assess
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/v1/console/login?next=%2Fv1%2Fconsole%2Fdatasets');
  });

  it("signs an operator in with an API key: a session cookie for the console's path only, that no script reads", async () => {
    // Act
    const res = await signIn(ops.apiKey!.key);
    const cookie = res.headers.get('set-cookie')!;
    const page = await call('/console/datasets', { headers: { cookie: cookie.split(';')[0]! } });
    // Assess
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/v1/console/datasets');
    expect(cookie).toMatch(
      /^strata_console=[^;]+; Max-Age=28800; Path=\/v1\/console; HttpOnly; Secure; SameSite=Strict$/,
    );
    expect(cookie).not.toContain(ops.apiKey!.key);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Signed in as <strong>ops</strong>');
  });

  it("refuses a partner's key without the operator scope, and a key that is not one", async () => {
    // Act
    const partner = await signIn(acme.apiKey!.key);
    const wrong = await signIn('strata_000000000000_0000');
    // Assess
    expect(partner.status).toBe(403);
    expect(partner.headers.get('set-cookie')).toBeNull();
    expect(await partner.text()).toContain('partner acme has no operator scope');
    expect(wrong.status).toBe(401);
  });

  it('ends the session when its key is revoked', async () => {
    // Prepare
    const extra = partners.add('night_ops', ['operator']);
    const cookie = (await signIn(extra.apiKey!.key)).headers.get('set-cookie')!.split(';')[0]!;
    const before = await call('/console', { headers: { cookie } });
    // Act
    partners.doc = revokeKey(partners.doc, 'night_ops', extra.apiKey!.id);
    const after = await call('/console', { headers: { cookie } });
    // Assess
    expect(before.status).toBe(200);
    expect(after.status).toBe(303);
  });

  it("takes the partner API's own credentials too: an operator's API key in a header", async () => {
    // Act
    const operator = await call('/console', { headers: { 'x-api-key': ops.apiKey!.key } });
    const partner = await call('/console', { headers: { 'x-api-key': acme.apiKey!.key } });
    // Assess
    expect(operator.status).toBe(200);
    expect(partner.status).toBe(403);
    expect(await partner.text()).toContain('the console is for operators');
  });
});
