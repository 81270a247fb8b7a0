// The partner portal through the Lambda adapter, as API Gateway calls it: pages under the stage's path, a
// session cookie for that path only and Secure, and uploads presigned by S3 (the pages' policy lets the
// script reach the ingress bucket's endpoint and nothing else). No network: S3 URLs are signed locally.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../runtime/adapters/aws/s3-object-store.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { handleEvent, type RestProxyEvent } from '../../runtime/http/lambda.ts';
import { S3UrlSigner } from '../../runtime/web/urls.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { MemoryDirectory, noDatabase, PARTNER_CATALOG, testApp } from '../helpers/partner-api.ts';

const HOST = 'a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com';
const ORIGIN = `https://${HOST}`;

/** What API Gateway (REST, `{proxy+}`, stage v1) sends for `/v1<path>`. */
function event(
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  const [pathname, search = ''] = path.split('?') as [string, string?];
  const query: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(search)) query[k] = [...(query[k] ?? []), v];
  const headers = { Host: HOST, 'X-Forwarded-Proto': 'https', 'X-Forwarded-Port': '443', ...init.headers };
  return {
    resource: '/{proxy+}',
    path: pathname,
    httpMethod: init.method ?? 'GET',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    multiValueQueryStringParameters: Object.keys(query).length > 0 ? query : null,
    pathParameters: { proxy: pathname.slice(1) },
    requestContext: { path: `/v1${pathname}`, domainName: HOST, stage: 'v1' },
    body: init.body ?? null,
    isBase64Encoded: false,
  } as unknown as RestProxyEvent;
}

/** A header of the answer, as API Gateway gets them (multi-value). */
const header = (r: { multiValueHeaders?: Record<string, unknown[]> }, name: string) =>
  String(r.multiValueHeaders?.[name]?.[0] ?? '');
const formToken = (page: string) => /name="form" value="([^"]+)"/.exec(page)?.[1] ?? '';

describe('the partner portal behind API Gateway', () => {
  let catalog: Catalog;
  const partners = new MemoryDirectory();
  const acme = partners.add('acme', ['upload:datasets/roads']);
  const s3 = new S3Client({
    region: 'eu-west-2',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 's' },
  });
  const store = new S3ObjectStore(
    { ingress: 'ingress-bucket', archive: 'archive-bucket', egress: 'egress-bucket' },
    s3,
  );
  let app: ReturnType<typeof testApp>;

  beforeAll(async () => {
    catalog = await writeCatalog(
      join(await mkdtemp(join(tmpdir(), 'strata-portal-')), 'catalog'),
      PARTNER_CATALOG,
    );
    app = testApp({
      catalog,
      store,
      partners,
      // The dataset's page lists past uploads from the database; none here.
      runs: { findByUploadPrefix: async () => [] } as never,
      queue: noDatabase,
      urls: new S3UrlSigner(store, { download: 300, upload: 900 }),
      trustForwardedHeaders: true,
    });
  });

  it('signs in under the stage path, and presigns an upload to the ingress bucket that the page may reach', async () => {
    // Act
    const login = await handleEvent(app, event('/portal/login'));
    const signIn = await handleEvent(
      app,
      event('/portal/login', {
        method: 'POST',
        headers: { Origin: ORIGIN, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ form: formToken(login.body), key: acme.apiKey!.key }).toString(),
      }),
    );
    const setCookie = header(signIn, 'set-cookie');
    const cookie = setCookie.split(';')[0]!;
    const roads = await handleEvent(app, event('/portal/datasets/roads', { headers: { Cookie: cookie } }));
    const asked = await handleEvent(
      app,
      event('/portal/datasets/roads/uploads', {
        method: 'POST',
        headers: {
          Cookie: cookie,
          Origin: ORIGIN,
          'Content-Type': 'application/json',
          'X-Portal-Form': formToken(roads.body),
        },
        body: JSON.stringify({ filename: 'roads.csv', size: 120 }),
      }),
    );
    // Assess
    expect(login.statusCode).toBe(200);
    expect(signIn.statusCode).toBe(303);
    expect(header(signIn, 'location')).toBe('/v1/portal');
    expect(setCookie).toMatch(
      /^strata_portal=[^;]+; Max-Age=28800; Path=\/v1\/portal; HttpOnly; Secure; SameSite=Strict$/,
    );
    expect(roads.statusCode).toBe(200);
    expect(header(roads, 'content-security-policy')).toContain(
      "connect-src 'self' https://ingress-bucket.s3.eu-west-2.amazonaws.com;",
    );
    expect(asked.statusCode).toBe(201);
    const target = JSON.parse(asked.body) as { url: string; page: string };
    expect(new URL(target.url).hostname).toBe('ingress-bucket.s3.eu-west-2.amazonaws.com');
    expect(new URL(target.url).pathname).toMatch(/^\/partners\/acme\/roads\/u[0-9a-f]{12}-roads\.csv$/);
    expect(target.page).toMatch(/^\/v1\/portal\/datasets\/roads\/uploads\/u[0-9a-f]{12}-roads\.csv$/);
  });
});
