import type { OpenAPIHono } from '@hono/zod-openapi';
import type { PublishedReader } from '../publish/reader.ts';
import type { AppDeps, AppEnv } from '../web/context.ts';
import { noRoute, problemOf } from '../web/problem.ts';
import { routedApp } from '../web/route.ts';
import { portalGuard } from './guard.ts';
import { pageRoute, portalProblem } from './respond.ts';
import { dataPages } from './routes/data.ts';
import { signInPages } from './routes/sign-in.ts';

/**
 * The portal for partners' staff, an application of its own that the HTTP application mounts at /portal,
 * beside the console: a person signs in (an API key of their partner's; see routes/sign-in.ts), sees the
 * datasets the partner may send to and the products it may read, sends a file straight to the ingress bucket
 * and reads its receipt, and downloads. What they may see and do is their partner's scopes, checked by the
 * same functions as the partner API's (runtime/web/uploads.ts, published.ts). Server-rendered pages, one
 * inlined script; its errors are pages too.
 */
export function portalApp(deps: AppDeps, published: PublishedReader): OpenAPIHono<AppEnv> {
  const app = routedApp();
  app.onError((error, c) =>
    portalProblem(
      c,
      deps,
      problemOf(error, { path: c.req.path, contentType: c.req.header('content-type') }, deps.log),
    ),
  );
  const routes = { app, deps, published, route: pageRoute(portalGuard(deps)) };
  dataPages(routes);
  signInPages(routes);
  // Registered last: only what no page above answered, as a page of its own.
  app.all('*', (c) => portalProblem(c, deps, noRoute(c.req.method, c.req.path)));
  return app;
}
