import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import * as Hawk from 'hawk';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { DataApiDatabase } from '../../runtime/adapters/aws/data-api-database.ts';
import { S3ObjectStore } from '../../runtime/adapters/aws/s3-object-store.ts';
import { FsObjectStore } from '../../runtime/adapters/local/fs-object-store.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { handleEvent, type RestProxyEvent } from '../../runtime/http/lambda.ts';
import { RunRegistry } from '../../runtime/runs/registry.ts';
import { S3UrlSigner, type UrlSigner } from '../../runtime/web/urls.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import {
  gridPoints,
  hawkOf,
  MemoryDirectory,
  noDatabase,
  PARTNER_CATALOG,
  publishVersion,
  testApp,
  verifyResponse,
} from '../helpers/partner-api.ts';

const API_HOST = 'a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com';

/**
 * The event API Gateway (REST, `{proxy+}`) sends for a client's URL, as it sends it: the stage or the custom
 * domain's base path in `requestContext.path`; the base path (not the stage) in `path`; the query decoded.
 */
function eventFor(
  clientUrl: string,
  via: { prefix: string; stageInPath?: boolean },
  init: { method?: string; headers?: Record<string, string>; body?: string; base64?: boolean } = {},
): RestProxyEvent {
  const u = new URL(clientUrl);
  const routed = u.pathname.slice(via.prefix.length) || '/';
  const query: Record<string, string[]> = {};
  for (const [k, v] of u.searchParams) query[k] = [...(query[k] ?? []), v];
  const headers = {
    Host: u.host,
    'X-Forwarded-Proto': 'https',
    'X-Forwarded-Port': '443',
    ...init.headers,
  };
  return {
    resource: routed === '/' ? '/' : '/{proxy+}',
    path: via.stageInPath === false ? u.pathname : routed,
    httpMethod: init.method ?? 'GET',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    multiValueQueryStringParameters: Object.keys(query).length > 0 ? query : null,
    pathParameters: routed === '/' ? null : { proxy: routed.slice(1) },
    requestContext: { path: u.pathname, domainName: u.hostname, stage: 'v1' },
    body:
      init.body === undefined ? null : init.base64 ? Buffer.from(init.body).toString('base64') : init.body,
    isBase64Encoded: Boolean(init.base64),
  };
}

describe('the partner API behind API Gateway', () => {
  let catalog: Catalog;
  let store: FsObjectStore;
  const partners = new MemoryDirectory();
  const acme = partners.add('acme', ['read:products/*', 'upload:datasets/roads'], 10_000);
  const creds = hawkOf(acme);
  const app = (publicBaseUrl?: string) =>
    testApp({
      catalog,
      store,
      partners,
      runs: noDatabase,
      queue: noDatabase,
      publicBaseUrl,
    });

  /** Signs for the URL the client uses, sends it through the adapter, and checks the signed answer. */
  async function signed(
    clientUrl: string,
    via: { prefix: string; stageInPath?: boolean },
    options: {
      publicBaseUrl?: string;
      method?: string;
      body?: string;
      base64?: boolean;
      signedUrl?: string;
    } = {},
  ) {
    const method = options.method ?? 'GET';
    const { header, artifacts } = Hawk.client.header(options.signedUrl ?? clientUrl, method, {
      credentials: creds,
      ...(options.body !== undefined ? { payload: options.body, contentType: 'application/json' } : {}),
    });
    const event = eventFor(clientUrl, via, {
      method,
      body: options.body,
      base64: options.base64,
      headers: { Authorization: header, ...(options.body ? { 'Content-Type': 'application/json' } : {}) },
    });
    const result = await handleEvent(app(options.publicBaseUrl), event);
    const res = new Response(result.body, {
      status: result.statusCode,
      headers: Object.entries(result.multiValueHeaders ?? {}).flatMap(([k, vs]) =>
        (vs as string[]).map((v) => [k, v] as [string, string]),
      ),
    });
    return { result, verified: verifyResponse(res, result.body, creds, artifacts), body: result.body };
  }

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-lambda-'));
    catalog = await writeCatalog(join(dir, 'catalog'), PARTNER_CATALOG);
    store = new FsObjectStore(join(dir, 'buckets'));
    await publishVersion(store, 'places', 'v1', { points: gridPoints(60) });
  });

  it("verifies Hawk at the stage path, and links carry it so the client's next request verifies too", async () => {
    // Act: a page through the execute-api URL, then its next link.
    const url = `https://${API_HOST}/v1/collections/places.points/items?limit=25&bbox=-5,40,5,50`;
    const first = await signed(url, { prefix: '/v1' });
    const next = JSON.parse(first.body).links.find((l: { rel: string }) => l.rel === 'next').href as string;
    const second = await signed(next, { prefix: '/v1' });
    // Assess
    expect(first.result.statusCode).toBe(200);
    expect(first.verified).toBe(true);
    expect(next.startsWith(`https://${API_HOST}/v1/collections/places.points/items?limit=25&cursor=`)).toBe(
      true,
    );
    expect(second.result.statusCode).toBe(200);
    expect(second.verified).toBe(true);
    expect(JSON.parse(second.body).numberReturned).toBe(25);
  });

  it('verifies behind a custom domain, with a base path and without', async () => {
    // Act
    const based = await signed('https://api.example.org/partners/products', {
      prefix: '/partners',
      stageInPath: false,
    });
    const root = await signed('https://data.example.org/products/places', { prefix: '' });
    const landing = await signed('https://api.example.org/partners/', {
      prefix: '/partners',
      stageInPath: false,
    });
    const bare = await signed(`https://${API_HOST}/v1`, { prefix: '/v1' });
    // Assess
    expect(based.result.statusCode).toBe(200);
    expect(based.verified).toBe(true);
    expect(JSON.parse(based.body).products[0].links[0].href).toBe(
      'https://api.example.org/partners/products/places',
    );
    expect(root.result.statusCode).toBe(200);
    expect(root.verified).toBe(true);
    expect(JSON.parse(landing.body).links[0].href).toBe('https://api.example.org/partners/');
    // The landing page is public (unsigned); asked for as `/v1`, its links still carry the stage.
    expect(bare.result.statusCode).toBe(200);
    expect(JSON.parse(bare.body).links[3].href).toBe(`https://${API_HOST}/v1/conformance`);
  });

  it('verifies a query the client percent-encoded, and a body API Gateway passed as base64', async () => {
    // Act
    const encoded = await signed(
      `https://${API_HOST}/v1/collections/places.points/items?limit=5&bbox=-5%2C40%2C5%2C50`,
      {
        prefix: '/v1',
      },
    );
    const upload = await signed(
      `https://${API_HOST}/v1/datasets/roads/uploads`,
      { prefix: '/v1' },
      { method: 'POST', body: JSON.stringify({ filename: 'r.csv', size: 10 }), base64: true },
    );
    // Assess
    expect(encoded.result.statusCode).toBe(200);
    expect(encoded.verified).toBe(true);
    expect(upload.result.statusCode).toBe(201);
    expect(upload.verified).toBe(true);
  });

  it('verifies against a configured public base URL when a proxy in front rewrites the Host', async () => {
    // Prepare: the client used https://maps.example.org/api/...; API Gateway saw its own host.
    const clientUrl = 'https://maps.example.org/api/products/places/latest';
    // Act
    const withBase = await signed(
      `https://${API_HOST}/v1/products/places/latest`,
      { prefix: '/v1' },
      { publicBaseUrl: 'https://maps.example.org/api', signedUrl: clientUrl },
    );
    const withoutBase = await signed(
      `https://${API_HOST}/v1/products/places/latest`,
      { prefix: '/v1' },
      { signedUrl: clientUrl },
    );
    // Assess
    expect(withBase.result.statusCode).toBe(200);
    expect(withBase.verified).toBe(true);
    expect(JSON.parse(withBase.body).links[0].href).toBe(
      'https://maps.example.org/api/products/places/versions/v1',
    );
    expect(withoutBase.result.statusCode).toBe(401);
  });

  it('answers 503 with Retry-After when Aurora is still resuming at the end of the budget, within it', async () => {
    // Prepare: the Data API says the cluster is resuming, every time; a budget of 1.5 s.
    const rds = mockClient(RDSDataClient);
    rds
      .on(ExecuteStatementCommand)
      .rejects(Object.assign(new Error('resuming'), { name: 'DatabaseResumingException' }));
    const db = new DataApiDatabase(
      { resourceArn: 'arn:c', secretArn: 'arn:s', database: 'strata' },
      new RDSDataClient({}),
      1500,
    );
    const resuming = testApp({
      catalog,
      store,
      partners,
      runs: new RunRegistry(db),
      queue: noDatabase,
    });
    // Act: on a fake clock, so the budget is measured exactly, whatever the machine's load.
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    try {
      const started = Date.now();
      const pending = resuming.request('https://x/runs/20261123T000000000Z-abcdef01', {
        headers: { 'X-API-Key': acme.apiKey!.key },
      });
      await vi.runAllTimersAsync();
      const res = await pending;
      const waited = Date.now() - started;
      // Assess: it waited out the budget, not one backoff step past it, then said when to come back.
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('15');
      expect(JSON.parse(await res.text()).detail).toMatch(/resuming/);
      expect(waited).toBe(1500);
      expect(rds.commandCalls(ExecuteStatementCommand).length).toBeGreaterThan(2);
    } finally {
      vi.useRealTimers();
    }
    rds.restore();
  });
});

describe('S3 presigned URLs for partners', () => {
  const client = new S3Client({
    region: 'eu-west-2',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 's' },
  });
  const store = new S3ObjectStore(
    { ingress: 'ingress-bucket', archive: 'archive-bucket', egress: 'egress-bucket' },
    client,
  );
  const signer: UrlSigner = new S3UrlSigner(store, { download: 300, upload: 900 });
  const ctx = {
    door: { proto: 'https' as const, host: 'x', port: 443, prefix: '', targets: [] },
    signingKey: 'k',
  };

  it('signs a PUT bound to its size and type, into the key asked, for a limited time, with no checksum of its own', async () => {
    // Act
    const target = await signer.upload(
      'partners/acme/roads/u1-roads.csv',
      { size: 1234, contentType: 'text/csv' },
      ctx,
    );
    const url = new URL(target.url);
    // Assess
    expect(url.hostname).toBe('ingress-bucket.s3.eu-west-2.amazonaws.com');
    expect(url.pathname).toBe('/partners/acme/roads/u1-roads.csv');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    // S3 refuses a PUT whose Content-Length or Content-Type differs from these signed headers.
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host');
    // A checksum of an empty body signed into the URL would make S3 refuse every real upload.
    expect([...url.searchParams.keys()].filter((k) => k.toLowerCase().includes('checksum'))).toEqual([]);
    expect(target.headers).toEqual({ 'Content-Type': 'text/csv', 'Content-Length': '1234' });
  });

  it('signs a GET of one egress object', async () => {
    // Act
    const url = new URL((await signer.download('products/p/v1/out.csv', ctx)).url);
    // Assess
    expect(url.hostname).toBe('egress-bucket.s3.eu-west-2.amazonaws.com');
    expect(url.pathname).toBe('/products/p/v1/out.csv');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
  });

  it('reads a byte range with one ranged GET', async () => {
    // Prepare
    const s3 = mockClient(S3Client);
    s3.on(GetObjectCommand).resolves({
      Body: { transformToByteArray: async () => new Uint8Array([1, 2, 3]) } as never,
    });
    // Act
    const bytes = await new S3ObjectStore(
      { ingress: 'i', archive: 'a', egress: 'e' },
      new S3Client({ region: 'eu-west-2' }),
    ).getRange('egress', 'products/p/v1/out.fgb', 100, 103);
    // Assess
    expect([...bytes]).toEqual([1, 2, 3]);
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: 'e',
      Key: 'products/p/v1/out.fgb',
      Range: 'bytes=100-102',
    });
    s3.restore();
  });
});
