import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { consoleApp } from '../console/app.ts';
import { SESSION_COOKIE } from '../console/session.ts';
import { portalApp } from '../portal/app.ts';
import { PORTAL } from '../portal/realm.ts';
import { PublishedReader } from '../publish/reader.ts';
import { PLATFORM_VERSION } from '../version.ts';
import { authenticate, authenticateOperator } from '../web/auth.ts';
import type { AppDeps, AppEnv } from '../web/context.ts';
import { type Door, link, withPublicBase } from '../web/door.ts';
import { type HttpProblem, noRoute, problemBody, problemOf } from '../web/problem.ts';
import { routedApp, withSigningKey } from '../web/route.ts';
import { apiPage } from './api-page.ts';
import { cors } from './cors.ts';
import { changeRoutes } from './routes/changes.ts';
import { datasetRoutes } from './routes/datasets.ts';
import { featureRoutes } from './routes/features.ts';
import { landingRoutes } from './routes/landing.ts';
import { localRoutes } from './routes/local.ts';
import { productRoutes } from './routes/products.ts';
import { operatorRoutes, runRoutes } from './routes/runs.ts';
import { subscriptionRoutes } from './routes/subscriptions.ts';
import { workRoutes } from './routes/work.ts';

const OAS30 = 'application/vnd.oai.openapi+json;version=3.0';
const OAS31 = 'application/vnd.oai.openapi+json;version=3.1';

/** A request that came with no adapter (tests calling `app.request`): its URL is what the client addressed. */
function doorFromUrl(url: string): Door {
  const u = new URL(url);
  const proto = u.protocol === 'https:' ? 'https' : 'http';
  return {
    proto,
    host: u.hostname,
    port: u.port ? Number(u.port) : proto === 'https' ? 443 : 80,
    prefix: '',
    targets: [`${u.pathname}${u.search}`],
  };
}

function problemResponse(c: Context<AppEnv>, p: HttpProblem): Response {
  return c.body(JSON.stringify(problemBody(p, new URL(c.req.url).pathname)), p.status as 400, {
    ...p.headers,
    'content-type': 'application/problem+json',
  });
}

/**
 * The one HTTP application: the partner API (catalog, versions, downloads, OGC API – Features, uploads,
 * builds, runs), the operators' routes, the console and the partner portal (applications of their own, with
 * their own error pages, mounted at /console and /portal), and on `strata serve` the webhooks and local file URLs. The Lambda handler and
 * `strata serve` only adapt requests to it; authentication is middleware on the routes that need it, once.
 * Its errors are problem documents.
 */
export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = routedApp();
  const published = new PublishedReader(deps.store);

  app.use('*', async (c, next) => {
    const door = c.env?.door ?? doorFromUrl(c.req.url);
    c.set('door', withPublicBase(door, deps.publicBaseUrl));
    await next();
  });
  app.use('*', cors(deps.corsOrigins ?? []));
  app.onError((error, c) =>
    problemResponse(
      c,
      problemOf(error, { path: c.req.path, contentType: c.req.header('content-type') }, deps.log),
    ),
  );
  app.notFound((c) => problemResponse(c, noRoute(c.req.method, c.req.path)));

  const withKey = withSigningKey(deps);
  const partnerAuth = authenticate(deps);
  const partner: MiddlewareHandler<AppEnv> = (c, next) =>
    withKey(c, async () => {
      await partnerAuth(c, next);
    });

  landingRoutes(app);
  datasetRoutes(app, deps, partner);
  productRoutes(app, deps, published, partner);
  featureRoutes(app, deps, published, partner);
  changeRoutes(app, deps, published, partner);
  workRoutes(app, deps, partner);
  runRoutes(app, deps, partner);
  subscriptionRoutes(app, deps, partner);
  operatorRoutes(app, deps, authenticateOperator(deps));
  app.route('/console', consoleApp(deps, published));
  app.route('/portal', portalApp(deps, published));
  if (deps.local) localRoutes(app, deps, deps.local);
  openApiRoutes(app);
  return app;
}

export const OPENAPI_INFO = {
  title: 'Strata partner API',
  version: PLATFORM_VERSION,
  description:
    'Find, fetch and send data without an AWS account. Authenticate with Hawk (sha256; responses carry a signed ' +
    'Server-Authorization) or an API key (Authorization: Bearer, or X-API-Key). Errors are application/problem+json.',
};

/** The OpenAPI 3.1 document of `app` (and 3.0 for OGC clients that read only that), from its zod schemas. */
export function openApiDocument(app: OpenAPIHono<AppEnv>, version: '3.0' | '3.1' = '3.1') {
  registerSecuritySchemes(app);
  const config = { openapi: version === '3.1' ? '3.1.0' : '3.0.3', info: OPENAPI_INFO };
  return version === '3.1' ? app.getOpenAPI31Document(config) : app.getOpenAPIDocument(config);
}

function registerSecuritySchemes(app: OpenAPIHono<AppEnv>): void {
  const registry = app.openAPIRegistry;
  if (registry.definitions.some((d) => d.type === 'component' && d.componentType === 'securitySchemes'))
    return;
  registry.registerComponent('securitySchemes', 'hawk', {
    type: 'http',
    scheme: 'Hawk',
    description: 'Hawk (sha256, 60 s clock skew, a new nonce each request, payload hash on bodies)',
  });
  registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  registry.registerComponent('securitySchemes', 'apiKey', {
    type: 'apiKey',
    in: 'header',
    name: 'X-API-Key',
  });
  registry.registerComponent('securitySchemes', 'consoleSession', {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description: "the console's session, made by POST /console/login for an operator's API key",
  });
  registry.registerComponent('securitySchemes', 'portalSession', {
    type: 'apiKey',
    in: 'cookie',
    name: PORTAL.cookie,
    description: "the partner portal's session, made when a partner's staff sign in at /portal/login",
  });
}

function openApiRoutes(app: OpenAPIHono<AppEnv>): void {
  const cache = new Map<string, string>();
  const serve = (version: '3.0' | '3.1') => {
    let text = cache.get(version);
    if (!text) {
      text = JSON.stringify(openApiDocument(app, version));
      cache.set(version, text);
    }
    return text;
  };
  const doc = z.record(z.string(), z.unknown()).openapi('OpenAPIDocument');
  app.openapi(
    createRoute({
      method: 'get',
      path: '/openapi.json',
      tags: ['meta'],
      summary: 'This document (OpenAPI 3.1)',
      responses: { 200: { description: 'OpenAPI 3.1', content: { [OAS31]: { schema: doc } } } },
    }),
    (c) => c.body(serve('3.1'), 200, { 'content-type': OAS31 }) as never,
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api',
      tags: ['meta'],
      summary: "This document as OpenAPI 3.0 (OGC API – Features' service description)",
      responses: { 200: { description: 'OpenAPI 3.0', content: { [OAS30]: { schema: doc } } } },
    }),
    (c) => c.body(serve('3.0'), 200, { 'content-type': OAS30 }) as never,
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api.html',
      tags: ['meta'],
      summary: "This document as a page for people (OGC API's service-doc)",
      responses: {
        200: { description: 'the API, as a page', content: { 'text/html': { schema: z.string() } } },
      },
    }),
    (c) =>
      c.html(apiPage(JSON.parse(serve('3.0')), link(c.get('door'), '/api')), 200, {
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      }) as never,
  );
}
