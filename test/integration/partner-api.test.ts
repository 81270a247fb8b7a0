import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TableJobQueue } from '../../runtime/adapters/local/table-job-queue.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { RunRegistry } from '../../runtime/runs/registry.ts';
import { IngressWatcher } from '../../runtime/serve/ingress-watcher.ts';
import { LocalUrlSigner } from '../../runtime/web/urls.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import {
  countingDatabase,
  gridPoints,
  hawkFetch,
  hawkOf,
  MemoryDirectory,
  PARTNER_CATALOG,
  publishVersion,
  testApp,
} from '../helpers/partner-api.ts';

const BASE = 'http://127.0.0.1:8787';

interface Page {
  features: { id: number; properties: { id: number } }[];
  numberMatched: number;
  numberReturned: number;
  links: { rel: string; href: string }[];
}

describe.each(engines())('partner API on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  let counted: ReturnType<typeof countingDatabase>;
  let app: ReturnType<typeof testApp>;
  const partners = new MemoryDirectory();
  // acme reads places and roads, uploads to roads and to its own acme_counts, builds places.
  const acme = partners.add(
    'acme',
    [
      'read:products/places',
      'read:datasets/roads',
      'upload:datasets/roads',
      'upload:datasets/acme_counts',
      'build:products/places',
    ],
    10_000,
  );
  // beta alone may see secret_sites and rivers; it may upload anywhere its scopes say, acme_counts too.
  const beta = partners.add(
    'beta',
    [
      'read:products/secret_sites',
      'read:datasets/rivers',
      'upload:datasets/*',
      'build:products/secret_sites',
    ],
    10_000,
  );
  const call = (
    who: typeof acme,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) =>
    app.request(`${BASE}${path}`, {
      method,
      headers: {
        'X-API-Key': who.apiKey!.key,
        ...(body ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body ? JSON.stringify(body) : undefined,
      redirect: 'manual',
    } as RequestInit);
  const json = async (res: Response) => JSON.parse(await res.text());
  const follow = async (who: typeof acme, first: string): Promise<Page[]> => {
    const pages: Page[] = [];
    for (let url: string | undefined = first; url; ) {
      const res = await app.request(url, { headers: { 'X-API-Key': who.apiKey!.key } });
      expect(res.status).toBe(200);
      const page = (await res.json()) as Page;
      pages.push(page);
      url = page.links.find((l) => l.rel === 'next')?.href;
    }
    return pages;
  };

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await writeCatalog(join(p.dir, 'catalog'), PARTNER_CATALOG);
    await publishVersion(p.store, 'places', 'v1', { points: gridPoints(250) }, [
      { dataset: 'roads', version: 'r1' },
      { dataset: 'rivers', version: 'w1' },
    ]);
    await publishVersion(p.store, 'secret_sites', 'v1', { sites: gridPoints(20) });
    // One archived version of roads, by the normal path, for the dataset's versions.
    const csv = join(p.dir, 'roads.csv');
    await import('node:fs/promises').then((fs) => fs.writeFile(csv, 'id,name\n1,High Street\n2,Mill Lane\n'));
    const run = await submit(
      p,
      { kind: 'ingest', dataset: 'roads', source: { path: csv }, filename: 'roads.csv' },
      { kind: 'cli' },
    );
    expect((await workUntil(p, catalog, run.id, {}, 50)).status).toBe('succeeded');
    counted = countingDatabase(p.db);
    app = testApp({
      catalog,
      store: p.store,
      partners,
      runs: new RunRegistry(counted),
      queue: new TableJobQueue(counted),
      local: { webhookSecrets: new Map(), operatorsOnLoopback: false },
    });
  });
  afterAll(async () => p?.close());

  it('serves every read of published data without one database call', async () => {
    // Prepare
    counted.calls.length = 0;
    const reads = [
      '/',
      '/conformance',
      '/openapi.json',
      '/datasets',
      '/datasets/roads',
      '/datasets/roads/versions',
      '/products',
      '/products/places',
      '/products/places/versions',
      '/products/places/versions/v1',
      '/products/places/latest',
      '/products/places/versions/v1/outputs/points?format=csv',
      '/collections',
      '/collections/places.points',
      '/collections/places.points.v1',
      '/collections/places.points/items?limit=5',
      '/collections/places.points/items?limit=5&bbox=-4,40,-2,41',
      '/collections/places.points/items/3',
    ];
    // Act
    const statuses = await Promise.all(
      reads.map(async (path) => [path, (await call(acme, 'GET', path)).status]),
    );
    const versions = await json(await call(acme, 'GET', '/datasets/roads/versions'));
    // Assess
    expect(statuses).toEqual(reads.map((path) => [path, path.includes('/outputs/') ? 302 : 200]));
    expect(versions.versions).toHaveLength(1);
    expect(counted.calls).toEqual([]);
  });

  it('never shows, lists or lets a partner act on what only another may (403, and no names leak)', async () => {
    // Act: acme asks for everything that only beta may see or touch.
    const asked = [
      ['GET', '/datasets/rivers'],
      ['GET', '/datasets/rivers/versions'],
      ['GET', '/products/secret_sites'],
      ['GET', '/products/secret_sites/versions'],
      ['GET', '/products/secret_sites/versions/v1'],
      ['GET', '/products/secret_sites/latest'],
      ['GET', '/products/secret_sites/versions/v1/outputs/sites?format=csv'],
      ['GET', '/collections/secret_sites.sites'],
      ['GET', '/collections/secret_sites.sites/items'],
      ['GET', '/collections/secret_sites.sites/items/0'],
      ['POST', '/datasets/rivers/uploads', { filename: 'r.csv', size: 10 }],
      ['POST', '/products/secret_sites/builds'],
    ] as const;
    const answers = await Promise.all(
      asked.map(async ([method, path, body]) => {
        const res = await call(acme, method, path, body);
        return { path, status: res.status, text: await res.text() };
      }),
    );
    const listings = await Promise.all(
      ['/datasets', '/products', '/collections', '/products/places/latest'].map(async (path) =>
        (await call(acme, 'GET', path)).text(),
      ),
    );
    // A name that exists nowhere is refused the same way: a 403 never tells what exists.
    const unknown = await call(acme, 'GET', '/products/no_such_thing');

    // Assess
    for (const a of answers)
      expect({ path: a.path, status: a.status }).toEqual({ path: a.path, status: 403 });
    for (const a of answers) expect(a.text).not.toMatch(/roads|places|acme|beta/);
    for (const text of listings) expect(text).not.toMatch(/rivers|secret_sites|"sites"|beta/);
    expect(JSON.parse(listings[3]!)).toMatchObject({ hiddenInputs: 1, inputs: [{ dataset: 'roads' }] });
    expect(unknown.status).toBe(403);
    // And the other way round: beta sees its own, not acme's.
    expect((await call(beta, 'GET', '/products/secret_sites/latest')).status).toBe(200);
    expect((await call(beta, 'GET', '/products/places')).status).toBe(403);
    expect(await (await call(beta, 'GET', '/collections')).text()).not.toMatch(/places/);
  });

  it('pages every feature exactly once while a new version is published in between; later readers see it', async () => {
    // Act: the first page at v1 (with and without a bbox), then v2 is published, then the rest is read.
    const first = (await json(await call(acme, 'GET', '/collections/places.points/items?limit=40'))) as Page;
    const firstBbox = (await json(
      await call(acme, 'GET', '/collections/places.points/items?limit=7&bbox=-5,40,-3,40.5'),
    )) as Page;
    await publishVersion(p.store, 'places', 'v2', { points: gridPoints(300, 1000) });
    const rest = await follow(acme, first.links.find((l) => l.rel === 'next')!.href);
    const restBbox = await follow(acme, firstBbox.links.find((l) => l.rel === 'next')!.href);
    const fresh = (await json(await call(acme, 'GET', '/collections/places.points/items?limit=1'))) as Page;

    // Assess
    const ids = [first, ...rest].flatMap((pg) => pg.features.map((f) => f.properties.id));
    expect(ids).toHaveLength(250);
    expect(new Set(ids)).toEqual(new Set(gridPoints(250).map((f) => f.id)));
    expect(first.numberMatched).toBe(250);
    expect(rest.every((pg) => pg.numberMatched === 250)).toBe(true);
    expect(rest.reduce((n, pg) => n + pg.numberReturned, first.numberReturned)).toBe(250);
    const inBbox = gridPoints(250)
      .filter((f) => f.lon <= -3 && f.lat <= 40.5)
      .map((f) => f.id);
    const bboxIds = [firstBbox, ...restBbox].flatMap((pg) => pg.features.map((f) => f.properties.id));
    expect(bboxIds.sort((a, b) => a - b)).toEqual(inBbox);
    expect(firstBbox.numberMatched).toBe(inBbox.length);
    expect(fresh.numberMatched).toBe(300);
    expect(fresh.features[0]!.properties.id).toBeGreaterThan(1000);
  });

  it('refuses a cursor that was changed, made for another collection or filter, or not made here', async () => {
    // Prepare: a genuine next link.
    const page = (await json(
      await call(acme, 'GET', '/collections/places.points/items?limit=2&bbox=-5,40,0,45'),
    )) as Page;
    const next = new URL(page.links.find((l) => l.rel === 'next')!.href);
    const cursor = next.searchParams.get('cursor')!;
    const [body, sig] = cursor.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...payload, p: 0, b: null })).toString('base64url');
    const items = (c: string, extra = '') =>
      call(acme, 'GET', `/collections/places.points/items?limit=2&cursor=${c}${extra}`);

    // Act
    const genuine = await items(cursor);
    const tampered = await items(`${forged}.${sig}`);
    const flipped = await items(`${body}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BA' : 'AA'}`);
    const garbage = await items('not-a-cursor');
    const otherBbox = await items(cursor, '&bbox=0,0,1,1');
    const otherCollection = await call(acme, 'GET', `/collections/places.points.v1/items?cursor=${cursor}`);

    // Assess
    expect(genuine.status).toBe(200);
    for (const r of [tampered, flipped, garbage, otherBbox]) {
      expect(r.status).toBe(400);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
    }
    expect((await json(tampered)).detail).toMatch(/cursor is not valid/);
    expect((await json(otherBbox)).detail).toMatch(/bbox differs/);
    // The cursor pins v2; the pinned collection of v1 is another collection.
    expect(otherCollection.status).toBe(400);
  });

  it('answers with a short-lived signed download, as a redirect or as JSON, and serves the file from it', async () => {
    // Act
    const redirect = await call(acme, 'GET', '/products/places/versions/v1/outputs/points?format=csv');
    const asJson = await json(
      await call(acme, 'GET', '/products/places/versions/v1/outputs/points?format=csv', undefined, {
        Accept: 'application/json',
      }),
    );
    const file = await app.request(redirect.headers.get('location')!);
    const missing = await call(acme, 'GET', '/products/places/versions/v1/outputs/points?format=gpkg');
    // Assess
    expect(redirect.status).toBe(302);
    expect(asJson).toMatchObject({ format: 'csv', url: expect.stringContaining('/_local/downloads/') });
    expect(file.status).toBe(200);
    expect(await file.text()).toMatch(/^id,name,lon,lat\n1,point 1,/);
    expect((await json(missing)).detail).toMatch(/has no output "points" as gpkg/);
  });

  it("takes an upload through a URL bound to the partner's prefix, size and type, then gives its receipt", async () => {
    // Prepare
    const data = 'id,name\n10,Station Road\n11,Church Lane\n';
    // Act 1: ask for an upload, send the file to the URL.
    const created = await call(acme, 'POST', '/datasets/roads/uploads', {
      filename: 'new roads.csv',
      size: data.length,
    });
    const upload = await json(created);
    const put = await fetchLocal(app, upload.url, data, upload.headers);
    // Assess 1
    expect(created.status).toBe(201);
    expect(upload.key).toMatch(/^partners\/acme\/roads\/u[0-9a-f]{12}-new_roads\.csv$/);
    expect(upload.headers).toEqual({ 'Content-Type': 'text/csv', 'Content-Length': String(data.length) });
    expect(put.status).toBe(200);
    expect(await readFile(join(p.dir, 'buckets', 'ingress', ...upload.key.split('/')), 'utf8')).toBe(data);
    expect(await json(await call(acme, 'GET', `/datasets/roads/uploads/${upload.uploadId}`))).toMatchObject({
      status: 'waiting',
      run: null,
    });

    // Act 2: the ingress folder is watched as `strata serve` does; the ingest runs.
    const outcomes: string[] = [];
    const watcher = new IngressWatcher(p, catalog, { maxBytes: 1 << 30, quietMs: 0 }, (key, o) =>
      outcomes.push(`${key}: ${o.status}`),
    );
    await watcher.poll();
    await watcher.poll();
    const queued = await json(await call(acme, 'GET', `/datasets/roads/uploads/${upload.uploadId}`));
    await workUntil(p, catalog, queued.run.id, {}, 50);
    const done = await json(await call(acme, 'GET', `/datasets/roads/uploads/${upload.uploadId}`));
    const asRun = await call(acme, 'GET', `/runs/${queued.run.id}`);
    const byOther = await call(beta, 'GET', `/runs/${queued.run.id}`);
    // Assess 2
    expect(outcomes).toEqual([`${upload.key}: queued`]);
    expect(queued.run).toMatchObject({
      kind: 'ingest',
      target: 'roads',
      trigger: { kind: 'upload', by: 'acme' },
    });
    expect(done.status).toBe('succeeded');
    expect(done.run.result).toMatchObject({ dataset: 'roads', rows: 2, created: true });
    expect(asRun.status).toBe(200);
    expect(byOther.status).toBe(404);
    expect(await byOther.text()).not.toMatch(/acme|roads/);
  });

  it('refuses upload URLs past their time, bodies of another size or type, and URLs changed to another prefix', async () => {
    // Prepare: URLs that expired ten seconds ago, from an app whose clock says so.
    const expiredApp = testApp({
      catalog,
      store: p.store,
      partners,
      runs: p.runs,
      queue: p.queue,
      local: { webhookSecrets: new Map(), operatorsOnLoopback: false },
      urls: new LocalUrlSigner({ download: 1, upload: 1 }, () => Date.now() - 10_000),
    });
    const ask = async (a: typeof app, body: unknown) =>
      json(
        await a.request(`${BASE}/datasets/roads/uploads`, {
          method: 'POST',
          headers: { 'X-API-Key': acme.apiKey!.key, 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        }),
      );
    const expired = await ask(expiredApp, { filename: 'a.csv', size: 9 });
    const fresh = await ask(app, { filename: 'a.csv', size: 9 });
    const [tokenBody, tokenSig] = (fresh.url as string).split('/').pop()!.split('.') as [string, string];
    const grant = JSON.parse(Buffer.from(tokenBody, 'base64url').toString());
    const elsewhere = `${BASE}/_local/uploads/${Buffer.from(JSON.stringify({ ...grant, key: 'partners/beta/rivers/x.csv' })).toString('base64url')}.${tokenSig}`;

    // Act
    const late = await fetchLocal(app, expired.url, 'id\n1\n2\n3\n', expired.headers);
    const longer = await fetchLocal(app, fresh.url, 'id\n1\n2\n3\n4\n', { 'Content-Type': 'text/csv' });
    const wrongType = await fetchLocal(app, fresh.url, 'id\n1\n2\n3\n', {
      'Content-Type': 'application/json',
    });
    const moved = await fetchLocal(app, elsewhere, 'id\n1\n2\n3\n', fresh.headers);
    const tooBig = await call(acme, 'POST', '/datasets/roads/uploads', { filename: 'a.csv', size: 5000 });
    const badType = await call(acme, 'POST', '/datasets/roads/uploads', {
      filename: 'a.csv',
      size: 10,
      contentType: 'image/png',
    });
    const notFromBeta = await call(beta, 'POST', '/datasets/acme_counts/uploads', {
      filename: 'a.csv',
      size: 10,
    });
    const fromAcme = await call(acme, 'POST', '/datasets/acme_counts/uploads', {
      filename: 'a.csv',
      size: 10,
    });
    const ok = await fetchLocal(app, fresh.url, 'id\n1\n2\n3\n', fresh.headers);
    const again = await fetchLocal(app, fresh.url, 'id\n1\n2\n3\n', fresh.headers);

    // Assess
    expect(late.status).toBe(403);
    expect((await json(late)).detail).toMatch(/expired/);
    expect(longer.status).toBe(403);
    expect((await json(longer)).detail).toMatch(/Content-Length 11 is not the 9 bytes/);
    expect(wrongType.status).toBe(403);
    expect(moved.status).toBe(403);
    expect((await json(moved)).detail).toMatch(/not valid/);
    expect(tooBig.status).toBe(413);
    expect((await json(tooBig)).detail).toMatch(/over dataset "roads"'s limit of 1000 bytes/);
    expect(badType.status).toBe(415);
    expect(notFromBeta.status).toBe(403);
    expect(fromAcme.status).toBe(201);
    expect(ok.status).toBe(200);
    expect(again.status).toBe(409);
  });

  it('queues a build once per Idempotency-Key, and shows its run to the partner that asked only', async () => {
    // Act
    const a = await call(acme, 'POST', '/products/places/builds', undefined, {
      'Idempotency-Key': 'build-1',
    });
    const b = await call(acme, 'POST', '/products/places/builds', undefined, {
      'Idempotency-Key': 'build-1',
    });
    const c = await call(acme, 'POST', '/products/places/builds');
    const first = await json(a);
    const third = await json(c);
    const signed = await hawkFetch((u, i) => app.request(u, i), hawkOf(acme), `${BASE}/runs/${first.runId}`);
    const byBeta = await call(beta, 'GET', `/runs/${first.runId}`);
    const runs = (await p.runs.list({ target: 'places', kind: 'build' })).filter(
      (r) => r.trigger.kind === 'api',
    );
    // Assess
    expect(a.status).toBe(202);
    expect(b.status).toBe(200);
    expect(await json(b)).toMatchObject({ runId: first.runId, duplicate: true });
    expect(c.status).toBe(202);
    expect(third.runId).not.toBe(first.runId);
    expect(signed.res.status).toBe(200);
    expect(signed.verified).toBe(true);
    expect(JSON.parse(signed.text)).toMatchObject({
      id: first.runId,
      kind: 'build',
      target: 'places',
      trigger: { kind: 'api', by: 'acme' },
    });
    expect(byBeta.status).toBe(404);
    expect(runs.map((r) => r.id).sort()).toEqual([first.runId, third.runId].sort());
  });

  it("keeps the operators' run list for the operator scope", async () => {
    // Prepare
    const operator = partners.add('ops', ['operator']);
    // Act
    const refused = await call(acme, 'GET', '/runs');
    const allowed = await call(operator, 'GET', '/runs?status=succeeded');
    // Assess
    expect(refused.status).toBe(403);
    expect(allowed.status).toBe(200);
    expect((await json(allowed)).length).toBeGreaterThan(0);
  });
});

/** A PUT to a local upload URL (or any URL of the app), with the given headers. */
function fetchLocal(
  app: ReturnType<typeof testApp>,
  url: string,
  body: string,
  headers: Record<string, string>,
) {
  const h = new Headers(headers);
  h.set('Content-Length', headers['Content-Length'] ?? String(Buffer.byteLength(body)));
  return app.request(url, { method: 'PUT', headers: h, body });
}
