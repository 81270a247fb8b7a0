import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../runtime/http/app.ts';
import { describedApp, openApiText } from '../../runtime/http/openapi-doc.ts';

type Doc = { paths: Record<string, Record<string, { 'x-strata-local'?: boolean }>> };

/** `GET /collections/{collectionId}` for each operation in the document. */
function documented(
  doc: Doc,
  filter: (op: { 'x-strata-local'?: boolean }) => boolean = () => true,
): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => filter(op))
        .map(([method, _]) => `${method.toUpperCase()} ${path}`),
    )
    .sort();
}

/** What the app routes, as `GET /collections/{collectionId}` (Hono writes `:collectionId`). */
function served(app: ReturnType<typeof describedApp>): string[] {
  const routes = app.routes
    .filter((r) => r.method !== 'ALL')
    .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
  return [...new Set(routes)].sort();
}

describe('the OpenAPI document', () => {
  it('documents every route strata serve serves, and serves every route it documents', async () => {
    // Prepare
    const app = describedApp(true);
    const doc = openApiDocument(app) as unknown as Doc;
    // Act
    const answers = await Promise.all(
      documented(doc).map(async (route) => {
        const [method, path] = route.split(' ') as [string, string];
        const res = await app.request(`http://127.0.0.1${path.replace(/\{\w+\}/g, 'x1')}`, { method });
        const body = await res.text();
        return { route, routed: !body.includes('"detail":"no route ') };
      }),
    );
    // Assess
    expect(served(app)).toEqual(documented(doc));
    expect(answers.filter((a) => !a.routed)).toEqual([]);
  });

  it('documents exactly what the Lambda serves once the local routes are left out', () => {
    // Prepare
    const doc = openApiDocument(describedApp(true)) as unknown as Doc;
    // Act
    const lambda = served(describedApp(false));
    // Assess
    expect(lambda).toEqual(documented(doc, (op) => !op['x-strata-local']));
    expect(lambda).toContain('GET /collections/{collectionId}/items');
  });

  it('is committed as docs/openapi.json, current with the code (npm run openapi writes it)', () => {
    // Act
    const committed = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'openapi.json'), 'utf8');
    // Assess
    expect(committed).toBe(openApiText());
    expect(JSON.parse(committed).openapi).toBe('3.1.0');
  });

  it('is offered as OpenAPI 3.0 too, for OGC API clients that read only that', async () => {
    // Act
    const res = await describedApp(false).request('http://127.0.0.1/api');
    // Assess
    expect(res.headers.get('content-type')).toBe('application/vnd.oai.openapi+json;version=3.0');
    expect(JSON.parse(await res.text()).openapi).toBe('3.0.3');
  });
});
