import { writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { ChangeFeedHeader } from '../../runtime/features/changes.ts';
import { handleEvent, type RestProxyEvent } from '../../runtime/http/lambda.ts';
import { nodeServer } from '../../runtime/http/node.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { changeFeedKeys } from '../../runtime/layout/buckets.ts';
import { readJson } from '../../runtime/ports/object-store.ts';
import { readManifest } from '../../runtime/publish/versions.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { MemoryDirectory, noDatabase, testApp } from '../helpers/partner-api.ts';
import { SITES_DATASET, type Site, siteGrid, sitesCsv } from '../helpers/sites.ts';

interface ChangePage {
  since: string;
  version: string;
  key: string[];
  features: {
    type: string;
    change: string;
    properties: Site & { lon?: number };
    geometry: { coordinates: number[] };
  }[];
  removed: unknown[];
  numberMatched: number;
  numberReturned: number;
  links: { rel: string; href: string }[];
}

/** The version each site list became, and the rows as the published output holds them. */
const asRows = (sites: readonly Site[]) =>
  new Map(sites.map((s) => [s.id, { name: s.name, visits: s.visits, coordinates: [s.lon, s.lat] }]));

/** Applies composed changes to a copy, as a partner's sync does. */
function apply(copy: Map<number, unknown>, pages: readonly ChangePage[]) {
  const next = new Map(copy);
  for (const page of pages) {
    for (const k of page.removed) next.delete(k as number);
    for (const f of page.features)
      next.set(f.properties.id, {
        name: f.properties.name,
        visits: f.properties.visits,
        coordinates: f.geometry.coordinates,
      });
  }
  return next;
}

/** An API Gateway REST proxy event for a client's URL on the execute-api domain (stage v1). */
function eventFor(clientUrl: string, headers: Record<string, string>): RestProxyEvent {
  const u = new URL(clientUrl);
  const routed = u.pathname.slice('/v1'.length);
  const query: Record<string, string[]> = {};
  for (const [k, v] of u.searchParams) query[k] = [...(query[k] ?? []), v];
  const all = { Host: u.host, 'X-Forwarded-Proto': 'https', 'X-Forwarded-Port': '443', ...headers };
  return {
    resource: '/{proxy+}',
    path: routed,
    httpMethod: 'GET',
    headers: all,
    multiValueHeaders: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, [v]])),
    multiValueQueryStringParameters: Object.keys(query).length > 0 ? query : null,
    pathParameters: { proxy: routed.slice(1) },
    requestContext: { path: u.pathname, domainName: u.hostname, stage: 'v1' },
    body: null,
    isBase64Encoded: false,
  };
}

describe.each(engines())('change feeds on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  let server: Server;
  let base: string;
  const partners = new MemoryDirectory();
  const acme = partners.add('acme', ['read:products/site_list'], 10_000);
  const other = partners.add('other', ['read:products/nothing'], 10_000);
  const versions: string[] = [];
  const states: Site[][] = [];
  let n = 0;
  const app = () => testApp({ catalog, store: p.store, partners, runs: noDatabase, queue: noDatabase });

  const publish = async (sites: Site[]) => {
    const path = join(p.dir, `${++n}.csv`);
    await writeFile(path, sitesCsv(sites));
    await runIngest(p, catalog, {
      dataset: 'sites',
      path,
      filename: `${n}.csv`,
      origin: { kind: 'file', from: path },
    });
    const run = await submit(p, { kind: 'build', product: 'site_list' }, { kind: 'cli' });
    expect((await workUntil(p, catalog, run.id)).error).toBeNull();
    versions.push((await readManifest(p.store, 'site_list')).version);
    states.push(sites.map((s) => ({ ...s })));
  };
  const get = async (url: string, who = acme) => {
    const res = await fetch(url, { headers: { 'X-API-Key': who.apiKey!.key } });
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      body: (await res.json()) as { detail?: string } & Record<string, unknown>,
    };
  };
  const follow = async (first: string): Promise<ChangePage[]> => {
    const pages: ChangePage[] = [];
    for (let url: string | undefined = first; url; ) {
      const { status, body } = await get(url);
      expect(status).toBe(200);
      const page = body as unknown as ChangePage;
      pages.push(page);
      url = page.links.find((l) => l.rel === 'next')?.href;
    }
    return pages;
  };

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await writeCatalog(join(p.dir, 'catalog'), {
      datasets: { sites: SITES_DATASET },
      products: {
        site_list: {
          product: {
            inputs: { sites: 'sites' },
            outputs: [
              { table: 'places', key: ['id'], formats: ['flatgeobuf'] },
              { table: 'named', formats: ['flatgeobuf'] },
            ],
          },
          sql: {
            '010_out.sql':
              'CREATE TABLE places AS SELECT id, name, visits, geom FROM sites;\nCREATE TABLE named AS SELECT name, geom FROM sites;',
          },
        },
      },
    });
    // v1: sixty sites. v2: site 7 goes, 61 comes, sites 9, 18, ... get visits, site 20 moves.
    // v3: site 61 goes again (added and removed since v1), site 7 comes back, site 8 is renamed.
    const v1 = siteGrid();
    await publish(v1);
    const v2 = v1.filter((s) => s.id !== 7).map((s) => ({ ...s }));
    for (const s of v2) if (s.id % 9 === 0) s.visits += 100;
    v2.find((s) => s.id === 20)!.lon += 0.25;
    v2.push({ id: 61, name: 'new "quoted"', visits: 1, lon: 1.123456789012345, lat: 54.000000000000014 });
    await publish(v2);
    const v3 = v2.filter((s) => s.id !== 61).map((s) => ({ ...s }));
    v3.push({ ...v1.find((s) => s.id === 7)!, visits: 500 });
    v3.find((s) => s.id === 8)!.name = 'tab\there';
    await publish(v3);
    server = nodeServer(app());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await p?.close();
  });

  it('publishes beside each version a feed of what changed since the previous one, for keyed outputs only', async () => {
    const keys = changeFeedKeys('site_list', versions[1]!, 'places');
    const feed = ChangeFeedHeader.parse(await readJson(p.store, 'egress', keys.header));
    expect(feed).toMatchObject({ from: versions[0], to: versions[1], key: ['id'] });
    expect(feed.counts).toEqual({ added: 1, changed: 7, removed: 1 });
    // The first version has nothing to compare with, and an output without a key gets no feed.
    expect(await p.store.exists('egress', changeFeedKeys('site_list', versions[0]!, 'places').header)).toBe(
      false,
    );
    expect(await p.store.exists('egress', changeFeedKeys('site_list', versions[1]!, 'named').header)).toBe(
      false,
    );
  });

  it('composes every change since an older version, each key once, paged with signed next links (strata serve door)', async () => {
    const pages = await follow(`${base}/collections/site_list.places/changes?since=${versions[0]}&limit=3`);
    expect(pages.length).toBeGreaterThan(2);
    const all = pages.flatMap((x) => [...x.features.map((f) => f.properties.id), ...(x.removed as number[])]);
    expect(new Set(all).size).toBe(all.length);
    expect(pages[0]).toMatchObject({ since: versions[0], version: versions[2], key: ['id'] });
    expect(pages.every((x) => x.numberMatched === all.length)).toBe(true);
    const changes = new Map(pages.flatMap((x) => x.features.map((f) => [f.properties.id, f.change])));
    // Site 7 was there at v1, went and came back: changed. Site 61 came and went: not told at all.
    expect(changes.get(7)).toBe('changed');
    expect(all).not.toContain(61);
    expect(changes.get(8)).toBe('changed');
    // Applying them to the first version's rows gives the third's, geometry to the last bit.
    expect(apply(asRows(states[0]!), pages)).toEqual(asRows(states[2]!));
  });

  it('answers the last version alone, nothing after the current one, and 410 for a since it does not reach', async () => {
    const one = await follow(`${base}/collections/site_list.places/changes?since=${versions[1]}`);
    expect(apply(asRows(states[1]!), one)).toEqual(asRows(states[2]!));
    const added = one.flatMap((x) => x.features).find((f) => f.properties.id === 7)!;
    expect(added.change).toBe('added');
    expect(one.flatMap((x) => x.removed)).toEqual([61]);
    const none = await get(`${base}/collections/site_list.places/changes?since=${versions[2]}`);
    expect(none.body).toMatchObject({ features: [], removed: [], numberMatched: 0 });
    const unknown = await get(`${base}/collections/site_list.places/changes?since=20200101T000000Z-deadbeef`);
    expect(unknown.status).toBe(410);
    expect(unknown.type).toMatch(/application\/problem\+json/);
    expect(unknown.body.detail).toMatch(/has no version "20200101T000000Z-deadbeef".*full copy/);
    const unkeyed = await get(`${base}/collections/site_list.named/changes?since=${versions[1]}`);
    expect(unkeyed.status).toBe(410);
    expect(unkeyed.body.detail).toMatch(/has no change feed.*full copy/);
    expect(
      (await get(`${base}/collections/site_list.places/changes?since=${versions[0]}`, other)).status,
    ).toBe(403);
    const tampered = await get(
      `${base}/collections/site_list.places/changes?since=${versions[0]}&cursor=e30.AAAA`,
    );
    expect(tampered.status).toBe(400);
  });

  it("serves the same pages behind API Gateway (the Lambda door), with next links for the client's URL", async () => {
    const handler = app();
    const pages: ChangePage[] = [];
    let url: string | undefined =
      `https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/v1/collections/site_list.places/changes?since=${versions[0]}&limit=4`;
    while (url) {
      const result = await handleEvent(handler, eventFor(url, { 'X-API-Key': acme.apiKey!.key }));
      expect(result.statusCode).toBe(200);
      const page = JSON.parse(result.body) as ChangePage;
      pages.push(page);
      url = page.links.find((l) => l.rel === 'next')?.href;
      if (url)
        expect(url).toMatch(
          /^https:\/\/a1b2c3d4e5\.execute-api\.eu-west-2\.amazonaws\.com\/v1\/collections\//,
        );
    }
    expect(apply(asRows(states[0]!), pages)).toEqual(asRows(states[2]!));
    const gone = await handleEvent(
      handler,
      eventFor(
        `https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/v1/collections/site_list.places/changes?since=nope`,
        { 'X-API-Key': acme.apiKey!.key },
      ),
    );
    expect(gone.statusCode).toBe(410);
  });
});
