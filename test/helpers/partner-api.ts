import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as Hawk from 'hawk';
import { MemoryNonceStore, MemoryRateLimiter } from '../../runtime/adapters/local/memory-guards.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { createApp } from '../../runtime/http/app.ts';
import { addPartner, type IssuedCredentials } from '../../runtime/partners/admin.ts';
import { emptyDirectory } from '../../runtime/partners/credentials.ts';
import type { Database } from '../../runtime/ports/database.ts';
import type { JobQueue } from '../../runtime/ports/job-queue.ts';
import type { ObjectStore } from '../../runtime/ports/object-store.ts';
import type { PartnerDirectory, PartnerDirectoryDoc } from '../../runtime/ports/partner-directory.ts';
import type { LatestPointer, Manifest } from '../../runtime/publish/manifest.ts';
import type { RunRegistry } from '../../runtime/runs/registry.ts';
import type { AppDeps } from '../../runtime/web/context.ts';
import { LocalUrlSigner } from '../../runtime/web/urls.ts';

const run = promisify(execFile);

/** Ports for the routes that must not touch the database: any call fails the request loudly. */
export const noDatabase = new Proxy(
  {},
  { get: () => () => Promise.reject(new Error('database touched')) },
) as RunRegistry & JobQueue;

/** A partner directory held in memory, changed the way the command line changes the real ones. */
export class MemoryDirectory implements PartnerDirectory {
  readonly where = 'memory';
  constructor(public doc: PartnerDirectoryDoc = emptyDirectory()) {}
  async read() {
    return this.doc;
  }
  async update(change: (doc: PartnerDirectoryDoc) => PartnerDirectoryDoc) {
    this.doc = change(this.doc);
    return this.doc;
  }
  add(id: string, scopes: string[], requestsPerSecond?: number, burst?: number): IssuedCredentials {
    const { doc, issued } = addPartner(this.doc, id, { scopes, requestsPerSecond, burst });
    this.doc = doc;
    return issued;
  }
}

export type HawkCredentials = { id: string; key: string; algorithm: 'sha256' };
export const hawkOf = (issued: IssuedCredentials): HawkCredentials => ({
  id: issued.hawk!.id,
  key: issued.hawk!.key,
  algorithm: 'sha256',
});

/**
 * Counts every call a Database receives: the partner API's reads of published data must make none (Aurora
 * at 0 ACU would wake for them).
 */
export function countingDatabase(db: Database): Database & { calls: string[] } {
  const calls: string[] = [];
  return new Proxy(db as Database & { calls: string[] }, {
    get(target, prop, receiver) {
      if (prop === 'calls') return calls;
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || prop === 'close') return value;
      return (...args: unknown[]) => {
        calls.push(`${String(prop)}: ${String(args[0]).slice(0, 80)}`);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** Features written as GeoJSON by the test, turned into a FlatGeobuf with its packed index by ogr2ogr. */
export interface PointFeature {
  readonly id: number;
  readonly name: string;
  readonly lon: number;
  readonly lat: number;
}

export async function flatgeobufOf(features: readonly PointFeature[]): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-fgb-'));
  try {
    const geojson = join(dir, 'in.geojson');
    await writeFile(
      geojson,
      JSON.stringify({
        type: 'FeatureCollection',
        features: features.map((f) => ({
          type: 'Feature',
          properties: { id: f.id, name: f.name },
          geometry: { type: 'Point', coordinates: [f.lon, f.lat] },
        })),
      }),
    );
    const out = join(dir, 'out.fgb');
    await run('ogr2ogr', ['-f', 'FlatGeobuf', '-lco', 'SPATIAL_INDEX=YES', '-nln', 'out', out, geojson]);
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Points on a grid over part of Europe, ids 1..n. */
export function gridPoints(n: number, offset = 0): PointFeature[] {
  return Array.from({ length: n }, (_, i) => ({
    id: offset + i + 1,
    name: `point ${offset + i + 1}`,
    lon: -5 + (i % 50) * 0.2,
    lat: 40 + Math.floor(i / 50) * 0.2,
  }));
}

/**
 * Publishes a product version the way a build does (outputs, then the manifest, then `latest.json`), with
 * one output as FlatGeobuf (and as CSV, for downloads): until the formats branch exports FlatGeobuf, the
 * file is made by ogr2ogr from the features.
 */
export async function publishVersion(
  store: ObjectStore,
  product: string,
  version: string,
  outputs: Record<string, readonly PointFeature[]>,
  inputs: { dataset: string; version: string }[] = [],
): Promise<Manifest> {
  const files: Manifest['outputs'][number][] = [];
  for (const [name, features] of Object.entries(outputs)) {
    const fgb = await flatgeobufOf(features);
    const csv = `id,name,lon,lat\n${features.map((f) => `${f.id},${f.name},${f.lon},${f.lat}`).join('\n')}\n`;
    for (const [format, ext, bytes] of [
      ['flatgeobuf', 'fgb', fgb],
      ['csv', 'csv', Buffer.from(csv)],
    ] as const) {
      const key = `products/${product}/${version}/${name}.${ext}`;
      await store.put('egress', key, bytes);
      files.push({
        name,
        table: name,
        format: format as 'csv',
        key,
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        rows: features.length,
        srid: 4326,
      });
    }
  }
  const manifest: Manifest = {
    product,
    version,
    runId: `run-${version}`,
    builtAt: new Date().toISOString(),
    platform: { name: 'strata', version: 'test', engine: 'test' },
    inputs: inputs.map((i) => ({
      alias: i.dataset,
      ...i,
      requested: 'latest',
      sha256: 'x',
      table: 't',
      rows: 1,
    })),
    steps: [],
    checks: [],
    outputs: files,
    timings: {},
  };
  await store.put('egress', `products/${product}/${version}/manifest.json`, JSON.stringify(manifest));
  const latest: LatestPointer = {
    product,
    version,
    manifest: `products/${product}/${version}/manifest.json`,
    publishedAt: new Date().toISOString(),
  };
  await store.put('egress', `products/${product}/latest.json`, JSON.stringify(latest), { replace: true });
  return manifest;
}

/** An app as `strata serve` builds it, over the given ports. */
export function testApp(
  deps: Pick<AppDeps, 'catalog' | 'store' | 'runs' | 'queue' | 'partners'> & Partial<AppDeps>,
): ReturnType<typeof createApp> {
  return createApp({
    nonces: new MemoryNonceStore(),
    rateLimiter: new MemoryRateLimiter(),
    urls: new LocalUrlSigner({ download: 300, upload: 900 }),
    maxUploadBytes: 10 * 1024 * 1024,
    ...deps,
  });
}

export interface SignedResponse {
  readonly res: Response;
  readonly text: string;
  /** Whether the Server-Authorization header verified with the credentials and the body. */
  readonly verified: boolean;
}

/** A Hawk-signed request, as a partner's client sends it, and the client's check of the signed response. */
export async function hawkFetch(
  fetcher: (url: string, init: RequestInit) => Response | Promise<Response>,
  credentials: HawkCredentials,
  url: string,
  init: {
    method?: string;
    body?: string;
    contentType?: string;
    localtimeOffsetMsec?: number;
    nonce?: string;
  } = {},
): Promise<SignedResponse> {
  const method = init.method ?? 'GET';
  const contentType = init.contentType ?? (init.body !== undefined ? 'application/json' : undefined);
  const { header, artifacts } = Hawk.client.header(url, method, {
    credentials,
    ...(init.body !== undefined ? { payload: init.body, contentType } : {}),
    ...(init.localtimeOffsetMsec ? { localtimeOffsetMsec: init.localtimeOffsetMsec } : {}),
    ...(init.nonce ? { nonce: init.nonce } : {}),
  });
  const res = await fetcher(url, {
    method,
    headers: { Authorization: header, ...(contentType ? { 'Content-Type': contentType } : {}) },
    body: init.body,
    redirect: 'manual',
  });
  const text = await res.text();
  return { res, text, verified: verifyResponse(res, text, credentials, artifacts) };
}

export function verifyResponse(
  res: Response,
  text: string,
  credentials: HawkCredentials,
  artifacts: Hawk.crypto.Artifacts,
): boolean {
  if (!res.headers.get('server-authorization')) return false;
  try {
    Hawk.client.authenticate(
      { headers: Object.fromEntries(res.headers) } as never,
      credentials as never,
      artifacts,
      { payload: text, required: true },
    );
    return true;
  } catch {
    return false;
  }
}

/** The catalog the partner API tests share: two products and three datasets, owned by different partners. */
export const PARTNER_CATALOG = {
  datasets: {
    roads: {
      format: 'csv',
      columns: [
        { name: 'id', type: 'integer' },
        { name: 'name', type: 'text' },
      ],
      geometry: { kind: 'none' },
      maxBytes: 1000,
    },
    rivers: {
      format: 'csv',
      columns: [{ name: 'id', type: 'integer' }],
      geometry: { kind: 'none' },
    },
    acme_counts: {
      format: 'csv',
      source: { kind: 'partner', partner: 'acme' },
      columns: [{ name: 'id', type: 'integer' }],
      geometry: { kind: 'none' },
    },
  },
  products: {
    places: {
      product: {
        title: 'Places',
        inputs: { roads: 'roads', rivers: 'rivers' },
        outputs: [{ table: 'points' }],
      },
      sql: { '010_points.sql': 'CREATE TABLE points AS SELECT 1 AS id;' },
    },
    secret_sites: {
      product: { inputs: { rivers: 'rivers' }, outputs: [{ table: 'sites' }] },
      sql: { '010_sites.sql': 'CREATE TABLE sites AS SELECT 1 AS id;' },
    },
  },
};

export type TestCatalog = Catalog;
