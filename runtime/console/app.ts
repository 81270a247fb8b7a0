import type { OpenAPIHono } from '@hono/zod-openapi';
import type { PublishedReader } from '../publish/reader.ts';
import type { AppDeps, AppEnv } from '../web/context.ts';
import { noRoute, problemOf } from '../web/problem.ts';
import { routedApp } from '../web/route.ts';
import { consoleGuard } from './guard.ts';
import { ArchiveReader } from './reads.ts';
import { consoleProblem, pageRoute } from './respond.ts';
import { datasetPages } from './routes/datasets.ts';
import { graphPages } from './routes/graph.ts';
import { overviewPage } from './routes/overview.ts';
import { productPages } from './routes/products.ts';
import { runPages } from './routes/runs.ts';
import { signInPages } from './routes/sign-in.ts';
import { subscriptionPages } from './routes/subscriptions.ts';

/**
 * The web console for operators, an application of its own that the HTTP application mounts at /console:
 * on `strata serve` at 127.0.0.1, and on AWS through the partner API to partners with the `operator` scope.
 * Server-rendered pages, and its errors are pages too. Datasets, products, versions, QA reports and downloads
 * are read from the buckets (never the database, so a paused Aurora stays asleep); runs, retries and releases
 * need the database, and answer 503 with Retry-After while it resumes.
 */
export function consoleApp(deps: AppDeps, published: PublishedReader): OpenAPIHono<AppEnv> {
  const app = routedApp();
  app.onError((error, c) =>
    consoleProblem(
      c,
      problemOf(error, { path: c.req.path, contentType: c.req.header('content-type') }, deps.log),
    ),
  );
  const routes = {
    app,
    deps,
    published,
    archive: new ArchiveReader(deps.store),
    route: pageRoute(consoleGuard(deps)),
  };
  overviewPage(routes);
  datasetPages(routes);
  productPages(routes);
  graphPages(routes);
  runPages(routes);
  subscriptionPages(routes);
  signInPages(routes);
  // Registered last: only what no page above answered, as a page of its own.
  app.all('*', (c) => consoleProblem(c, noRoute(c.req.method, c.req.path)));
  return app;
}
