// OGC API – Features Part 1 (Core) as its requirements read, through a real HTTP server: what GDAL's OAPIF
// driver and OWSLib (the Python client QGIS's plugins and many scripts use) do with it, and the requirements
// no client on its defaults exercises (datetime, an antimeridian bbox, limit above the maximum, unknown
// parameters, unknown ids, pinned collections listed, service-doc, a signed HEAD). No database is involved:
// every read here comes from the published files.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as Hawk from 'hawk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../runtime/adapters/local/fs-object-store.ts';
import { nodeServer } from '../../runtime/http/node.ts';
import { MAX_LIMIT } from '../../runtime/http/routes/features.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import {
  gridPoints,
  hawkOf,
  MemoryDirectory,
  noDatabase,
  PARTNER_CATALOG,
  type PointFeature,
  publishVersion,
  testApp,
} from '../helpers/partner-api.ts';

const run = promisify(execFile);
const V1 = '20261101T000000000Z-aaaaaaa1';
const V2 = '20261201T000000000Z-bbbbbbb2';
const GRID = 2_000;
/** Two either side of the antimeridian inside 170,50,-170,55; two just outside it. */
const PACIFIC: PointFeature[] = [
  { id: 90_001, name: 'east of the line', lon: 175, lat: 52 },
  { id: 90_002, name: 'west of the line', lon: -175, lat: 53 },
  { id: 90_003, name: 'too far north', lon: 175, lat: 60 },
  { id: 90_004, name: 'too far west', lon: -160, lat: 52 },
];

/** The Debian python3 that has python3-owslib (a pyenv python3 may come first on PATH). */
async function owslibPython(): Promise<string> {
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      await run(python, ['-c', 'import owslib.ogcapi.features']);
      return python;
    } catch {}
  }
  throw new Error('OWSLib is not installed (apt-get install python3-owslib)');
}

describe('OGC API – Features Core through the partner API', () => {
  let server: Server;
  let base: string;
  let dir: string;
  const partners = new MemoryDirectory();
  const reader = partners.add('reader', ['read:products/places']);
  const key = reader.apiKey!.key;
  const get = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { 'X-API-Key': key, ...init.headers } });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-oapif-core-'));
    const store = new FsObjectStore(join(dir, 'buckets'));
    const catalog = await writeCatalog(join(dir, 'catalog'), PARTNER_CATALOG);
    await publishVersion(store, 'places', V1, { points: gridPoints(GRID) });
    await publishVersion(store, 'places', V2, { points: [...gridPoints(GRID), ...PACIFIC] });
    server = nodeServer(testApp({ catalog, store, partners, runs: noDatabase, queue: noDatabase }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 120_000);
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it('lists every collection it serves, the pinned versions too, and GDAL reads a pinned one', async () => {
    // Act
    const listed = (await (await get('/collections')).json()) as { collections: { id: string }[] };
    const { stdout } = await run('ogrinfo', ['-ro', '-q', `OAPIF:${base}`], {
      env: { ...process.env, GDAL_HTTP_HEADERS: `X-API-Key: ${key}`, CPL_VSIL_CURL_USE_CACHE: 'NO' },
    });
    // Assess
    expect(listed.collections.map((c) => c.id)).toEqual([
      'places.points',
      `places.points.${V2}`,
      `places.points.${V1}`,
    ]);
    expect(stdout).toContain(`places.points.${V1}`);
  });

  it('finds what a bbox across the antimeridian meets, on both sides, once each', async () => {
    // Act
    const page = (await (
      await get('/collections/places.points/items?bbox=170,50,-170,55&limit=1')
    ).json()) as {
      numberMatched: number;
      features: { properties: { id: number } }[];
      links: { rel: string; href: string }[];
    };
    const next = page.links.find((l) => l.rel === 'next')!.href;
    const second = (await (await get(next.replace(base, ''))).json()) as typeof page;
    // Assess
    expect(page.numberMatched).toBe(2);
    expect([...page.features, ...second.features].map((f) => f.properties.id).sort()).toEqual([
      90_001, 90_002,
    ]);
    expect(second.links.some((l) => l.rel === 'next')).toBe(false);
  });

  it('takes datetime (no feature has a time, so every one matches) and refuses one that is not RFC 3339', async () => {
    // Act
    const answers = await Promise.all(
      ['2026-11-01T00:00:00Z', '2026-01-01/..', '../2026-12-31T23:59:59.5+01:00', '2026-01-01'].map(
        async (d) => (await get(`/collections/places.points/items?datetime=${encodeURIComponent(d)}`)).json(),
      ),
    );
    const bad = await Promise.all(
      ['yesterday', '2026-13-01', '../..', '2026-12-01/2026-01-01'].map((d) =>
        get(`/collections/places.points/items?datetime=${encodeURIComponent(d)}`),
      ),
    );
    // Assess
    for (const a of answers)
      expect((a as { numberMatched: number }).numberMatched).toBe(GRID + PACIFIC.length);
    expect(bad.map((r) => r.status)).toEqual([400, 400, 400, 400]);
    expect(((await bad[0]!.json()) as { detail: string }).detail).toMatch(/datetime must be an RFC 3339/);
  });

  it('answers a limit above the maximum with the maximum, not an error', async () => {
    // Act
    const res = await get(`/collections/places.points/items?limit=${MAX_LIMIT * 10}`);
    const body = (await res.json()) as { numberReturned: number; links: { rel: string; href: string }[] };
    // Assess
    expect(res.status).toBe(200);
    expect(body.numberReturned).toBe(GRID + PACIFIC.length);
    expect(body.links.find((l) => l.rel === 'self')!.href).toContain(`limit=${MAX_LIMIT}`);
  });

  it('refuses a parameter it does not define alike on every OGC resource, and takes f=json on each', async () => {
    // Act
    const paths = [
      '/',
      '/conformance',
      '/collections',
      '/collections/places.points',
      '/collections/places.points/items',
      '/collections/places.points/items/0',
    ];
    const unknown = await Promise.all(paths.map((p) => get(`${p}?foo=bar`)));
    const json = await Promise.all(paths.map((p) => get(`${p}?f=json`)));
    // Assess
    expect(unknown.map((r) => r.status)).toEqual(paths.map(() => 400));
    expect(((await unknown[2]!.json()) as { detail: string }).detail).toContain('unknown parameter(s) foo');
    expect(json.map((r) => r.status)).toEqual(paths.map(() => 200));
  });

  it('answers 404 for a feature id that names no feature, whatever its spelling', async () => {
    // Act
    const statuses = await Promise.all(
      ['abc', '-1', '1.5', String(GRID + PACIFIC.length), '99999999999999999999'].map(
        async (id) => (await get(`/collections/places.points/items/${id}`)).status,
      ),
    );
    const found = await get(`/collections/places.points/items/${GRID + PACIFIC.length - 1}`);
    // Assess
    expect(statuses).toEqual([404, 404, 404, 404, 404]);
    expect(found.status).toBe(200);
  });

  it('links its documentation as a page (service-doc), made from the same OpenAPI document', async () => {
    // Act
    const landing = (await (await get('/')).json()) as {
      links: { rel: string; href: string; type: string }[];
    };
    const doc = landing.links.find((l) => l.rel === 'service-doc')!;
    const page = await fetch(doc.href);
    const html = await page.text();
    // Assess
    expect(doc.type).toBe('text/html');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html).toContain('GET /collections/{collectionId}/items');
    expect(html).not.toMatch(/<script/i);
  });

  it('signs a HEAD answer with the hash of the body it sends, which is none', async () => {
    // Prepare
    const url = `${base}/collections/places.points/items?limit=5`;
    const credentials = hawkOf(reader);
    const { header, artifacts } = Hawk.client.header(url, 'HEAD', { credentials });
    // Act
    const res = await fetch(url, { method: 'HEAD', headers: { Authorization: header } });
    // Assess: the client's check against the empty body it got passes; against the GET's body it fails.
    const check = (payload: string) => {
      try {
        Hawk.client.authenticate(
          { headers: Object.fromEntries(res.headers) } as never,
          credentials as never,
          artifacts,
          {
            payload,
            required: true,
          },
        );
        return true;
      } catch {
        return false;
      }
    };
    const getBody = await (await get('/collections/places.points/items?limit=5')).text();
    expect(res.status).toBe(200);
    expect(check('')).toBe(true);
    expect(check(getBody)).toBe(false);
  });

  it("reads with OWSLib: landing page, conformance, collections, items with the antimeridian bbox and datetime, the key sent as Basic's password", async () => {
    // Prepare
    const python = await owslibPython();
    const script = `
import json, os
from owslib.ogcapi.features import Features
from owslib.util import Authentication
api = Features(os.environ['API'] + '/', auth=Authentication('qgis-user', os.environ['KEY']))
out = {
  'conformance': api.conformance()['conformsTo'],
  'collections': [c['id'] for c in api.collections()['collections']],
  'collection': api.collection('places.points')['id'],
  'page': len(api.collection_items('places.points', limit=50)['features']),
  'pacific': sorted(f['properties']['id'] for f in api.collection_items('places.points', bbox=[170, 50, -170, 55])['features']),
  'datetime': api.collection_items('places.points', datetime='2026-01-01/..', limit=1)['numberMatched'],
}
print(json.dumps(out))
`;
    // Act
    const { stdout } = await run(python, ['-c', script], { env: { ...process.env, API: base, KEY: key } });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    // Assess
    expect(out.conformance).toContain('http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core');
    expect(out.collections).toContain(`places.points.${V1}`);
    expect(out.collection).toBe('places.points');
    expect(out.page).toBe(50);
    expect(out.pacific).toEqual([90_001, 90_002]);
    expect(out.datetime).toBe(GRID + PACIFIC.length);
  });

  it('copies the latest collection whole with GDAL on its defaults (10 features a page)', async () => {
    // Act
    const out = join(dir, 'all.geojson');
    await run('ogr2ogr', ['-f', 'GeoJSON', out, `OAPIF:${base}/collections/places.points`], {
      env: { ...process.env, GDAL_HTTP_HEADERS: `X-API-Key: ${key}`, CPL_VSIL_CURL_USE_CACHE: 'NO' },
    });
    const copied = JSON.parse(await readFile(out, 'utf8')) as { features: { properties: { id: number } }[] };
    // Assess
    expect(new Set(copied.features.map((f) => f.properties.id)).size).toBe(GRID + PACIFIC.length);
  });
});
