import { Readable } from 'node:stream';
import { createRoute, type OpenAPIHono, type RouteConfig, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { NotFoundError } from '../errors.ts';
import type { AppDeps, AppEnv } from '../http/context.ts';
import { badRequest, HttpProblem, notFound } from '../http/problem.ts';
import { PARTNER_SECURITY } from '../http/routes/route.ts';
import { RunId } from '../http/routes/runs.ts';
import * as S from '../http/schemas.ts';
import { queueRelease } from '../jobs/release.ts';
import { findApiKey } from '../partners/credentials.ts';
import { Scopes } from '../partners/scopes.ts';
import type { PublishedReader } from '../publish/reader.ts';
import { failedQaLocation } from '../qa/schema.ts';
import { redriveRun } from '../runs/redrive.ts';
import { RunKind, RunStatus } from '../runs/schema.ts';
import { consoleGuard } from './guard.ts';
import { type Html, PAGE_HEADERS, page, type Section, to, type View } from './layout.ts';
import { datasetPage, datasetsPage } from './pages/datasets.ts';
import { errorPage, loginPage, overviewPage } from './pages/overview.ts';
import { type ProductRow, productPage, productsPage } from './pages/products.ts';
import { type RetryNote, runPage, runsPage } from './pages/runs.ts';
import { ArchiveReader, freshness } from './reads.ts';
import {
  activeSession,
  checkForm,
  consolePath,
  endSession,
  isLoopbackHost,
  startSession,
} from './session.ts';

/** The console's paths: its errors are pages, not problem documents. */
export const isConsolePath = (path: string) => path === '/console' || path.startsWith('/console/');

const tags = ['console'];
/** A browser's console session (a cookie), or the partner API's own credentials. */
const SECURITY = [{ consoleSession: [] }, ...PARTNER_SECURITY];

const htmlPage = (description: string) => ({
  description,
  content: { 'text/html': { schema: z.string().openapi({ description: 'an HTML page' }) } },
});
const htmlProblems = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, htmlPage(`the problem, as a page (${s})`)]));
const seeOther = (description: string) => ({ 303: { description } });

const name = S.NameParam.openapi({ param: { name: 'name', in: 'path' } });
const version = S.VersionParam.openapi({ param: { name: 'version', in: 'path' } });
const fileId = S.VersionParam.openapi({ param: { name: 'id', in: 'path' } });
const form = <T extends z.ZodRawShape>(fields: T) => ({
  body: {
    required: true,
    content: {
      'application/x-www-form-urlencoded': {
        schema: z.object({
          form: z.string().max(2000).openapi({ description: "the form's token, as the page gave it" }),
          ...fields,
        }),
      },
    },
  },
});

const view = (c: Context<AppEnv>): View => ({
  door: c.get('door'),
  principal: c.get('principal'),
  signingKey: c.get('signingKey'),
});

async function respond(
  c: Context<AppEnv>,
  title: string,
  section: Section | undefined,
  body: Html,
  status = 200,
  headers: Record<string, string> = {},
  signedOut = false,
): Promise<Response> {
  const text = await page(view(c), { title, section, body, signedOut });
  return c.html(text, status as 200, { ...PAGE_HEADERS, ...headers });
}

/** A problem met on a console path, as a page (the app's error handler calls this). */
export function consoleProblem(c: Context<AppEnv>, p: HttpProblem): Promise<Response> {
  return respond(c, p.title, undefined, errorPage(view(c), p), p.status, p.headers);
}

/**
 * A QA report as the console serves it: with the policy its own page declares, in a sandbox of its own
 * origin, so its scripts can draw the map but never act as the console (its data is the data's, not ours).
 */
const REPORT_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
  'cache-control': 'private, max-age=3600',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * A QA report as a response: the page itself, or, when it is bigger than a response here may carry (Lambda's
 * 6 MB), a short-lived URL to its file (a presigned S3 URL: another origin, where the report keeps the policy
 * its own page declares).
 */
async function reportResponse(
  c: Context<AppEnv>,
  deps: AppDeps,
  bucket: 'egress' | 'archive',
  key: string,
): Promise<Response> {
  if (deps.maxResponseBytes !== undefined) {
    const size = (await deps.store.list(bucket, key)).find((o) => o.key === key)?.size ?? 0;
    if (size > deps.maxResponseBytes) {
      const url =
        bucket === 'egress'
          ? (await deps.urls.download(key, { door: c.get('door'), signingKey: c.get('signingKey') })).url
          : await deps.store.presign(bucket, key, { method: 'GET', expiresSeconds: 300 });
      return c.redirect(url, 302);
    }
  }
  const stream = await deps.store.get(bucket, key);
  return c.body(Readable.toWeb(stream) as ReadableStream, 200, REPORT_HEADERS);
}

const safeNext = (door: View['door'], next: string | undefined) => {
  // A control character in `next` is no console path; in a Location header it would split the answer.
  if (next !== undefined && /[\u0000-\u001f\u007f]/.test(next))
    throw badRequest('next must be a path of the console, without control characters (CR, LF, ...)');
  const root = consolePath(door);
  return next &&
    /^\/[^/\\]/.test(next) &&
    (next === root || next.startsWith(`${root}/`) || next.startsWith(`${root}?`))
    ? next
    : root;
};

/**
 * The web console for operators, on the one HTTP application: on `strata serve` at 127.0.0.1, and on AWS
 * through the partner API to partners with the `operator` scope. Server-rendered pages. Datasets, products,
 * versions, QA reports and downloads are read from the buckets (never the database, so a paused Aurora stays
 * asleep); runs, retries and releases need the database, and answer 503 with Retry-After while it resumes.
 */
export function consoleRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps, published: PublishedReader): void {
  const guard = consoleGuard(deps);
  const archive = new ArchiveReader(deps.store);
  const { catalog } = deps;
  const route = <R extends RouteConfig>(r: R) =>
    createRoute({ ...r, tags, middleware: [guard] as [MiddlewareHandler<AppEnv>], security: SECURITY });

  const productRow = async (productName: string): Promise<ProductRow> => {
    const entry = catalog.products.get(productName)!;
    const [latest, versions] = await Promise.all([
      published.latest(productName),
      published.versions(productName),
    ]);
    return {
      entry,
      latest,
      versions: versions.length,
      freshness: freshness(entry.product.schedule, latest),
      manifest: latest ? await published.manifest(productName, latest.version) : undefined,
    };
  };
  const productRows = () => Promise.all([...catalog.products.keys()].sort().map(productRow));
  const requireDataset = (n: string) => {
    const d = catalog.datasets.get(n);
    if (!d) throw notFound(`no dataset "${n}" in the catalog`);
    return d;
  };
  const requireProduct = (n: string) => {
    if (!catalog.products.has(n)) throw notFound(`no product "${n}" in the catalog`);
  };

  app.openapi(
    route({
      method: 'get',
      path: '/console',
      summary: 'Console: overview (freshness of each product, datasets, quarantine)',
      responses: {
        200: htmlPage('the overview'),
        303: { description: 'to sign in' },
        ...htmlProblems(401, 403),
      },
    }),
    async (c) => {
      const [products, datasets] = await Promise.all([productRows(), archive.datasets(catalog)]);
      return (await respond(
        c,
        'Overview',
        'overview',
        overviewPage(view(c), products, catalog.datasets, datasets),
      )) as never;
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/console/datasets',
      summary: 'Console: datasets, their current version and files in quarantine',
      responses: { 200: htmlPage('datasets'), 303: { description: 'to sign in' }, ...htmlProblems(401, 403) },
    }),
    async (c) =>
      (await respond(
        c,
        'Datasets',
        'datasets',
        datasetsPage(view(c), catalog.datasets, await archive.datasets(catalog)),
      )) as never,
  );

  app.openapi(
    route({
      method: 'get',
      path: '/console/datasets/{name}',
      summary: "Console: a dataset's versions, the history of its current version, its quarantined files",
      request: { params: z.object({ name }) },
      responses: {
        200: htmlPage('the dataset'),
        303: { description: 'to sign in' },
        ...htmlProblems(401, 403, 404),
      },
    }),
    async (c) => {
      const n = c.req.valid('param').name;
      const dataset = requireDataset(n);
      return (await respond(
        c,
        n,
        'datasets',
        datasetPage(view(c), dataset, await archive.dataset(n)),
      )) as never;
    },
  );

  app.openapi(
    route({
      method: 'post',
      path: '/console/datasets/{name}/quarantine/{id}/release',
      summary:
        'Console: release a quarantined file, with a reason (as `strata quarantine release`); 303 to its run',
      request: {
        params: z.object({ name, id: fileId }),
        ...form({
          request: z
            .string()
            .regex(/^[A-Za-z0-9_-]{8,40}$/)
            .openapi({ description: 'made by the page: the same form sent twice is one release' }),
          reason: z.string().trim().min(1, 'a release needs a reason').max(500),
        }),
      },
      responses: {
        ...seeOther('queued: to the release run'),
        ...htmlProblems(400, 401, 403, 404, 409, 503),
      },
    }),
    async (c) => {
      const { name: dataset, id } = c.req.valid('param');
      const body = c.req.valid('form');
      checkForm(c, body.form);
      const p = c.get('principal');
      const { run } = await queueRelease(
        { runs: deps.runs, queue: deps.queue, store: deps.store, catalog },
        { dataset, id },
        {
          reason: body.reason,
          request: body.request,
          actor: { trigger: 'console', user: p.partner },
          trigger: { kind: 'console', by: p.partner, detail: { via: p.via } },
        },
      );
      return c.redirect(to(view(c), `/runs/${run.id}`), 303) as never;
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/console/products',
      summary: 'Console: products, their latest version, checks and freshness',
      responses: { 200: htmlPage('products'), 303: { description: 'to sign in' }, ...htmlProblems(401, 403) },
    }),
    async (c) =>
      (await respond(c, 'Products', 'products', productsPage(view(c), await productRows()))) as never,
  );

  app.openapi(
    route({
      method: 'get',
      path: '/console/products/{name}',
      summary: "Console: a product's versions with their checks, changes, QA reports and downloads",
      request: { params: z.object({ name }) },
      responses: {
        200: htmlPage('the product'),
        303: { description: 'to sign in' },
        ...htmlProblems(401, 403, 404),
      },
    }),
    async (c) => {
      const n = c.req.valid('param').name;
      requireProduct(n);
      const [row, versions] = await Promise.all([productRow(n), published.versions(n)]);
      const manifests = await Promise.all(
        versions.map(async (ver) => ({ ...(await published.manifest(n, ver.version)), latest: ver.latest })),
      );
      return (await respond(c, n, 'products', productPage(view(c), row, manifests))) as never;
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/console/products/{name}/versions/{version}/qa',
      summary: "Console: a published version's QA report (qa.html beside its manifest)",
      request: { params: z.object({ name, version }) },
      responses: {
        200: htmlPage('the QA report'),
        302: {
          description: 'a report bigger than a response here may carry: to a short-lived URL of its file',
        },
        303: { description: 'to sign in' },
        ...htmlProblems(401, 403, 404),
      },
    }),
    async (c) => {
      const p = c.req.valid('param');
      requireProduct(p.name);
      const manifest = await published.manifest(p.name, p.version);
      if (!manifest.qa) throw notFound(`version ${p.version} of ${p.name} was published without a QA report`);
      return (await reportResponse(c, deps, 'egress', manifest.qa.html)) as never;
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/console/products/{name}/versions/{version}/outputs/{output}',
      summary: 'Console: download one output file (302 to a short-lived URL, as the partner API gives)',
      request: {
        params: z.object({
          name,
          version,
          output: S.NameParam.openapi({ param: { name: 'output', in: 'path' } }),
        }),
        query: z.object({ format: z.string().regex(/^[a-z0-9]+$/) }),
      },
      responses: {
        302: { description: 'to the download URL' },
        303: { description: 'to sign in' },
        ...htmlProblems(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const p = c.req.valid('param');
      const { format } = c.req.valid('query');
      requireProduct(p.name);
      const manifest = await published.manifest(p.name, p.version);
      const file = manifest.outputs.find((o) => o.name === p.output && (o.format as string) === format);
      if (!file) throw notFound(`version ${p.version} of ${p.name} has no output "${p.output}" as ${format}`);
      const signed = await deps.urls.download(file.key, {
        door: c.get('door'),
        signingKey: c.get('signingKey'),
      });
      return c.redirect(signed.url, 302) as never;
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/console/runs',
      summary: 'Console: recent runs with status, timings, attempts and causes (needs the database)',
      request: {
        query: z.object({
          status: z.enum(['', ...RunStatus.options]).optional(),
          kind: z.enum(['', ...RunKind.options]).optional(),
          target: z.union([z.literal(''), S.NameParam]).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
        }),
      },
      responses: {
        200: htmlPage('runs'),
        303: { description: 'to sign in' },
        ...htmlProblems(400, 401, 403, 503),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const filter = {
        status: q.status || undefined,
        kind: q.kind || undefined,
        target: q.target || undefined,
        limit: q.limit,
      };
      const runs = await deps.runs.list(filter);
      return (await respond(c, 'Runs', 'runs', runsPage(view(c), runs, filter))) as never;
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/console/runs/{id}',
      summary: 'Console: one run: status, timings, cause, every attempt, receipt, cost (needs the database)',
      request: {
        params: z.object({ id: RunId }),
        query: z.object({
          retry: z.enum(['queued', 'skipped']).optional(),
          why: z.string().max(300).optional(),
        }),
      },
      responses: {
        200: htmlPage('the run'),
        303: { description: 'to sign in' },
        ...htmlProblems(401, 403, 404, 503),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const [run, attempts] = await Promise.all([deps.runs.get(id), deps.runs.attempts(id)]);
      const note: RetryNote | undefined = q.retry ? { status: q.retry, reason: q.why } : undefined;
      return (await respond(c, `Run ${id}`, 'runs', runPage(view(c), run, attempts, note))) as never;
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/console/runs/{id}/qa',
      summary:
        'Console: the QA report of a build that failed its checks (kept in the archive, never published)',
      request: { params: z.object({ id: RunId }) },
      responses: {
        200: htmlPage('the QA report'),
        302: {
          description: 'a report bigger than a response here may carry: to a short-lived URL of its file',
        },
        303: { description: 'to sign in' },
        ...htmlProblems(401, 403, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      try {
        return (await reportResponse(c, deps, 'archive', failedQaLocation(id).html)) as never;
      } catch (e) {
        if (e instanceof NotFoundError)
          throw notFound(`run ${id} left no QA report (only a build that failed its checks does)`);
        throw e;
      }
    },
  );

  app.openapi(
    route({
      method: 'post',
      path: '/console/runs/{id}/retry',
      summary: 'Console: send a failed or interrupted run again (as `strata runs retry`); 303 back to it',
      request: { params: z.object({ id: RunId }), ...form({}) },
      responses: {
        ...seeOther('back to the run, saying what happened'),
        ...htmlProblems(400, 401, 403, 404, 503),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      checkForm(c, c.req.valid('form').form);
      const p = c.get('principal');
      const out = await redriveRun({ runs: deps.runs, queue: deps.queue }, id, `${p.partner} (console)`);
      const query =
        out.status === 'queued'
          ? 'retry=queued'
          : `retry=skipped&why=${encodeURIComponent(out.reason ?? '')}`;
      return c.redirect(to(view(c), `/runs/${id}?${query}`), 303) as never;
    },
  );

  // Signing in and out: open to all (there is nobody to guard yet), with the signing key at hand.
  const withKey: MiddlewareHandler<AppEnv> = async (c, next) => {
    c.set('signingKey', (await deps.partners.read()).signingKey);
    await next();
  };
  const open = <R extends RouteConfig>(r: R) =>
    createRoute({ ...r, tags, middleware: [withKey] as [MiddlewareHandler<AppEnv>], security: [] });
  const signedIn = async (c: Context<AppEnv>) =>
    (deps.local?.operatorsOnLoopback && isLoopbackHost(c.req.header('host') ?? new URL(c.req.url).host)) ||
    (await activeSession(c, await deps.partners.read(), deps.nonces)) !== undefined;

  app.openapi(
    open({
      method: 'get',
      path: '/console/login',
      summary: 'Console: the sign-in page (an operator posts an API key once)',
      request: { query: z.object({ next: z.string().max(2000).optional() }) },
      responses: { 200: htmlPage('the sign-in form'), 303: { description: 'signed in already' } },
    }),
    async (c) => {
      const next = safeNext(c.get('door'), c.req.valid('query').next);
      if (await signedIn(c)) return c.redirect(next, 303) as never;
      return (await respond(c, 'Sign in', undefined, loginPage(view(c), next), 200, {}, true)) as never;
    },
  );

  app.openapi(
    open({
      method: 'post',
      path: '/console/login',
      summary:
        "Console: sign in with an operator's API key; a session cookie (HttpOnly, SameSite=Strict) for 8 hours",
      request: {
        ...form({
          key: z
            .string()
            .max(200)
            .openapi({ description: 'an API key of a partner with the operator scope' }),
          next: z.string().max(2000).optional(),
        }),
      },
      responses: { ...seeOther('signed in: to the page asked for'), ...htmlProblems(400, 401, 403, 429) },
    }),
    async (c) => {
      const body = c.req.valid('form');
      checkForm(c, body.form);
      const next = safeNext(c.get('door'), body.next);
      // Keys are 256 random bits, so guessing is hopeless; the limit keeps a flood of tries from costing much.
      if (!(await deps.rateLimiter.take('console:sign-in', 10).catch(() => true)))
        throw new HttpProblem(429, 'Too Many Requests', 'too many sign-ins a second; try again', {
          'Retry-After': '1',
        });
      const doc = await deps.partners.read();
      const found = findApiKey(doc, body.key.trim());
      if (!found || !new Scopes(found.partner.scopes).operator)
        return (await respond(
          c,
          'Sign in',
          undefined,
          loginPage(
            view(c),
            next,
            found
              ? `partner ${found.id} has no operator scope: the console is for operators`
              : 'that API key is not valid (revoked, mistyped, or never issued)',
          ),
          found ? 403 : 401,
          {},
          true,
        )) as never;
      startSession(c, doc.signingKey, { partner: found.id, keyId: found.keyId });
      return c.redirect(next, 303) as never;
    },
  );

  app.openapi(
    route({
      method: 'post',
      path: '/console/logout',
      summary: 'Console: sign out (ends the session on the server: a copy of its cookie stops working too)',
      request: { ...form({}) },
      responses: { ...seeOther('to the sign-in page'), ...htmlProblems(400, 401, 403) },
    }),
    async (c) => {
      checkForm(c, c.req.valid('form').form);
      await endSession(c, deps.nonces);
      return c.redirect(to(view(c), '/login'), 303) as never;
    },
  );
}
