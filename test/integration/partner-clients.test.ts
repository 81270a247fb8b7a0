// Partners with the tools they have, on their defaults, and what a careless or hostile sender meets (issue 19,
// points 6 to 13): GDAL reading a whole collection through `strata serve` with a partner made by the command
// line, the API key as Basic's password (what QGIS 3.22 can send), CORS for a web map, the operator's
// loopback pass refused to another Host, upload names the watcher never takes, bodies of the wrong type,
// a login's `next` with CR/LF, sign-out ending the session on the server, and the CLI's refusals as sentences.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../runtime/adapters/local/fs-object-store.ts';
import type { IssuedCredentials } from '../../runtime/partners/admin.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { type CliEngine, type CliHome, cliEngines, startServe } from '../helpers/cli.ts';
import {
  gridPoints,
  MemoryDirectory,
  noDatabase,
  PARTNER_CATALOG,
  publishVersion,
  testApp,
} from '../helpers/partner-api.ts';
import { freePort } from '../helpers/wait.ts';

const run = promisify(execFile);
const BASE = 'http://127.0.0.1:8787';
const MAP = 'https://maps.example.org';
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A GET with the Host header a browser on a rebound DNS name would send (fetch will not set Host). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.each(cliEngines())(
  'partners on their defaults, through strata serve ($name)',
  (engine: CliEngine) => {
    const COUNT = 3_000;
    let cli: CliHome;
    let base: string;
    let stop: () => void = () => {};
    let issued: IssuedCredentials;

    beforeAll(async () => {
      // Prepare: a home with a published collection of 3,000 points, a partner made by the command line with
      // every default (rate, burst), and strata serve allowing one web map's origin.
      cli = await engine.setup();
      const catalogDir = join(cli.home, 'catalog');
      await writeCatalog(catalogDir, PARTNER_CATALOG);
      const store = new FsObjectStore(join(cli.home, 'buckets'));
      await publishVersion(store, 'places', '20261201T000000000Z-cccccccc', { points: gridPoints(COUNT) });
      const added = await cli.run(['--json', 'partners', 'add', 'gis', '--scope', 'read:products/places']);
      expect(added.code).toBe(0);
      issued = JSON.parse(added.stdout) as IssuedCredentials;
      const port = await freePort();
      const serving = await startServe(
        ['--catalog', catalogDir, '--home', cli.home, 'serve', '--port', String(port), '--cors-origin', MAP],
        cli.env,
        port,
      );
      stop = () => serving.child.kill('SIGKILL');
      base = `http://127.0.0.1:${port}`;
    }, 600_000);
    afterAll(async () => {
      stop();
      await cli?.close();
    });

    it("reads a whole collection with ogr2ogr on GDAL's defaults (10 features a page) and a default partner key", async () => {
      // Act
      const out = join(cli.home, 'places.geojson');
      await run('ogr2ogr', ['-f', 'GeoJSON', out, `OAPIF:${base}/collections/places.points`], {
        env: {
          ...process.env,
          GDAL_HTTP_HEADERS: `X-API-Key: ${issued.apiKey!.key}`,
          CPL_VSIL_CURL_USE_CACHE: 'NO',
        },
      });
      const ids = (
        JSON.parse(await readFile(out, 'utf8')) as { features: { properties: { id: number } }[] }
      ).features.map((f) => f.properties.id);
      // Assess: 300 pages and more, every feature once.
      expect(ids).toHaveLength(COUNT);
      expect(new Set(ids).size).toBe(COUNT);
    }, 300_000);

    it("lets GDAL send the key as Basic's password, as QGIS's Basic authentication does", async () => {
      // Act
      const { stdout } = await run('ogrinfo', ['-ro', '-so', `OAPIF:${base}`, 'places.points'], {
        env: {
          ...process.env,
          GDAL_HTTP_AUTH: 'BASIC',
          GDAL_HTTP_USERPWD: `anyone:${issued.apiKey!.key}`,
          CPL_VSIL_CURL_USE_CACHE: 'NO',
        },
      });
      // Assess
      expect(stdout).toMatch(new RegExp(`Feature Count: ${COUNT}`));
    });

    it('answers the configured web map origin (--cors-origin), preflight and read', async () => {
      // Act
      const preflight = await fetch(`${base}/collections/places.points/items`, {
        method: 'OPTIONS',
        headers: {
          origin: MAP,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'x-api-key',
        },
      });
      const read = await fetch(`${base}/collections/places.points/items?limit=1`, {
        headers: { origin: MAP, 'x-api-key': issued.apiKey!.key },
      });
      // Assess
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe(MAP);
      expect(preflight.headers.get('access-control-allow-headers')).toMatch(/X-API-Key/i);
      expect(read.status).toBe(200);
      expect(read.headers.get('access-control-allow-origin')).toBe(MAP);
    });

    it("refuses the operator's loopback pass to a request addressed to another name (DNS rebinding)", async () => {
      // Act
      const port = new URL(base).port;
      const rebound = await getWithHost(`${base}/runs`, `evil.example:${port}`);
      const local = await getWithHost(`${base}/runs`, `127.0.0.1:${port}`);
      const localhost = await getWithHost(`${base}/runs`, `localhost:${port}`);
      // Assess: the runs (from the database) only for a loopback name.
      expect(rebound.status).toBe(403);
      expect(JSON.parse(rebound.body).detail).toContain('evil.example');
      expect(rebound.body).not.toContain('"id"');
      expect(local.status).toBe(200);
      expect(Array.isArray(JSON.parse(local.body))).toBe(true);
      expect(localhost.status).toBe(200);
    });

    it("refuses the operator's loopback pass to a page of another origin, even one CORS allows", async () => {
      // Act: what a web map's fetch to strata serve sends (a loopback Host, and its own Origin).
      const foreign = await fetch(`${base}/runs`, { headers: { origin: MAP } });
      const own = await fetch(`${base}/runs`, { headers: { origin: base } });
      // Assess: no runs for the other origin's page; the server's own pages still pass.
      expect(foreign.status).toBe(403);
      expect(await foreign.text()).toContain(MAP);
      expect(own.status).toBe(200);
    });

    it('refuses a partner id it cannot use in one sentence, not a list of schema issues', async () => {
      // Act
      const out = await cli.run(['partners', 'add', 'bar-partner', '--scope', 'read:products/places']);
      // Assess
      expect(out.code).not.toBe(0);
      expect(out.stderr.trim()).toBe(
        'error: partner id "bar-partner" must start with a lowercase letter and use only a-z, 0-9 and _ (it is also a bucket prefix)',
      );
    });
  },
);

describe('what a careless or hostile sender meets', () => {
  const partners = new MemoryDirectory();
  const sender = partners.add('sender', ['upload:datasets/rivers', 'read:products/places']);
  const ops = partners.add('ops', ['operator']);
  let app: ReturnType<typeof testApp>;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-careless-'));
    const catalog = await writeCatalog(join(dir, 'catalog'), PARTNER_CATALOG);
    const store = new FsObjectStore(join(dir, 'buckets'));
    await publishVersion(store, 'places', '20261201T000000000Z-dddddddd', { points: gridPoints(20) });
    app = testApp({ catalog, store, partners, runs: noDatabase, queue: noDatabase });
  }, 120_000);

  const upload = (filename: string, contentType = 'application/json') =>
    app.request(`${BASE}/datasets/rivers/uploads`, {
      method: 'POST',
      headers: { 'x-api-key': sender.apiKey!.key, 'content-type': contentType },
      body:
        contentType === 'application/json' ? JSON.stringify({ filename, size: 10 }) : `filename=${filename}`,
    });

  it('refuses to sign an upload under a name the ingress never takes, and says which name to use', async () => {
    // Act
    const refused = await Promise.all(
      ['weekly.csv.part', 'weekly.csv.TMP', '.weekly.csv', 'dir/.hidden'].map((n) => upload(n)),
    );
    const taken = await upload('weekly.csv');
    // Assess
    expect(refused.map((r) => r.status)).toEqual([400, 400, 400, 400]);
    const detail = ((await refused[0]!.json()) as { detail: string }).detail;
    expect(detail).toContain('"weekly.csv.part" is a name for a file still being written');
    expect(detail).toContain('send it under its final name, such as "weekly.csv"');
    expect(taken.status).toBe(201);
  });

  it('answers a body of the wrong type with 415, on the API and in the console, never 500', async () => {
    // Act
    const api = await upload('weekly.csv', 'text/plain');
    const form = await app.request(`${BASE}/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: BASE },
      body: JSON.stringify({ key: ops.apiKey!.key }),
    });
    const malformed = await app.request(`${BASE}/datasets/rivers/uploads`, {
      method: 'POST',
      headers: { 'x-api-key': sender.apiKey!.key, 'content-type': 'application/json' },
      body: '{"filename": ',
    });
    // Assess
    expect(api.status).toBe(415);
    expect(api.headers.get('content-type')).toBe('application/problem+json');
    expect(((await api.json()) as { detail: string }).detail).toContain('"text/plain"');
    expect(form.status).toBe(415);
    expect(await form.text()).not.toMatch(/at .*\.ts:\d+/);
    expect(malformed.status).toBe(400);
  });

  it('takes the API key as the password of HTTP Basic with any user name, and only a valid one', async () => {
    // Act
    const good = await app.request(`${BASE}/collections`, {
      headers: { authorization: basic('qgis', sender.apiKey!.key) },
    });
    const empty = await app.request(`${BASE}/collections`, {
      headers: { authorization: basic('', sender.apiKey!.key) },
    });
    const wrong = await app.request(`${BASE}/collections`, {
      headers: { authorization: basic('qgis', 'not-a-key') },
    });
    const none = await app.request(`${BASE}/collections`);
    // Assess
    expect(good.status).toBe(200);
    expect(empty.status).toBe(200);
    expect(wrong.status).toBe(401);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Basic realm=');
  });

  it('sends no CORS header and answers no preflight unless origins are configured; then only for them and reads', async () => {
    // Prepare
    const open = testApp({
      catalog: { dir: '', datasets: new Map(), products: new Map() },
      store: new FsObjectStore(join(dir, 'buckets')),
      partners,
      runs: noDatabase,
      queue: noDatabase,
      corsOrigins: [MAP],
    });
    const preflight = (a: typeof app, origin: string, method = 'GET') =>
      a.request(`${BASE}/collections`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': method },
      });
    const read = (a: typeof app, origin: string) =>
      a.request(`${BASE}/collections`, { headers: { origin, 'x-api-key': sender.apiKey!.key } });
    // Act
    const byDefault = [await preflight(app, MAP), await read(app, MAP)];
    const allowed = [await preflight(open, MAP), await read(open, MAP)];
    const other = [await preflight(open, 'https://evil.example'), await read(open, 'https://evil.example')];
    const write = await preflight(open, MAP, 'POST');
    const unauthorised = await open.request(`${BASE}/collections`, { headers: { origin: MAP } });
    // Assess
    expect(byDefault[0]!.status).toBe(403);
    expect(byDefault[1]!.headers.get('access-control-allow-origin')).toBeNull();
    expect(allowed[0]!.status).toBe(204);
    expect(allowed[0]!.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
    expect(allowed[1]!.headers.get('access-control-allow-origin')).toBe(MAP);
    expect(allowed[1]!.headers.get('vary')).toContain('Origin');
    expect(other[0]!.status).toBe(403);
    expect(other[1]!.headers.get('access-control-allow-origin')).toBeNull();
    expect(write.status).toBe(403);
    // A page can read why it was refused.
    expect(unauthorised.status).toBe(401);
    expect(unauthorised.headers.get('access-control-allow-origin')).toBe(MAP);
  });

  it('refuses a login whose next holds CR/LF with 400 and no cookie; signing out ends every copy of the session', async () => {
    // Prepare
    const formToken = (page: string) => /name="form" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const post = (path: string, fields: Record<string, string>, cookie?: string) =>
      app.request(`${BASE}${path}`, {
        method: 'POST',
        headers: {
          origin: BASE,
          'content-type': 'application/x-www-form-urlencoded',
          ...(cookie ? { cookie } : {}),
        },
        body: new URLSearchParams(fields).toString(),
        redirect: 'manual',
      });
    const get = (path: string, cookie: string) =>
      app.request(`${BASE}${path}`, { headers: { cookie }, redirect: 'manual' });
    const loginPage = await (await app.request(`${BASE}/console/login`)).text();
    // Act
    const split = await post('/console/login', {
      form: formToken(loginPage),
      key: ops.apiKey!.key,
      next: '/console\r\nSet-Cookie: strata_console=forged',
    });
    const signedIn = await post('/console/login', {
      form: formToken(loginPage),
      key: ops.apiKey!.key,
      next: '/console',
    });
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    const copy = cookie;
    const before = await get('/console', cookie);
    const out = await post('/console/logout', { form: formToken(await before.text()) }, cookie);
    const after = await get('/console', copy);
    // Assess
    expect(split.status).toBe(400);
    expect(split.headers.get('set-cookie')).toBeNull();
    expect(await split.text()).toContain('without control characters');
    expect(signedIn.status).toBe(303);
    expect(before.status).toBe(200);
    expect(out.status).toBe(303);
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toMatch(/^\/console\/login/);
  });
});
