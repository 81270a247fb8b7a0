import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { Dataset } from '../../catalog/schema.ts';
import { takesUploadsFrom } from '../../partners/uploads.ts';
import type { AppDeps, AppEnv, Principal } from '../../web/context.ts';
import { link } from '../../web/door.ts';
import { htmlPage, htmlProblems, toSignIn, view } from '../../web/pages.ts';
import { NameParam, VersionParam } from '../../web/params.ts';
import { notFound, problemBody, problemOf } from '../../web/problem.ts';
import { publishedOutput, requireReadable, signedDownload } from '../../web/published.ts';
import { reportResponse, reportResponses } from '../../web/report.ts';
import { checkForm } from '../../web/session.ts';
import {
  newUpload,
  pastUploads,
  UPLOAD_ID_PATTERN,
  uploadableDataset,
  uploadRun,
} from '../../web/uploads.ts';
import { to } from '../layout.ts';
import { datasetPage, downloadPage, homePage, productPage, sendPage, uploadPage } from '../pages/data.ts';
import { PORTAL } from '../realm.ts';
import { type PortalRoutes, respond } from '../respond.ts';

const name = NameParam.openapi({ param: { name: 'name', in: 'path' } });
const version = VersionParam.openapi({ param: { name: 'version', in: 'path' } });
const uploadId = z
  .string()
  .regex(UPLOAD_ID_PATTERN, 'must be an upload id')
  .openapi({ param: { name: 'uploadId', in: 'path' } });

/** The datasets the partner may send to: its scopes allow uploads, and the dataset takes them from it. */
const sendable = (deps: AppDeps, p: Principal): Dataset[] =>
  [...deps.catalog.datasets.values()]
    .filter((d) => p.scopes.allows('upload', 'datasets', d.name) && takesUploadsFrom(d, p.partner))
    .sort((a, b) => a.name.localeCompare(b.name));

/** The products the partner may read, with their latest version (read from the bucket, not the database). */
async function readable({ deps, published }: PortalRoutes, p: Principal) {
  const names = [...deps.catalog.products.keys()]
    .filter((n) => p.scopes.allows('read', 'products', n))
    .sort();
  return Promise.all(
    names.map(async (n) => ({
      name: n,
      title: deps.catalog.products.get(n)!.product.title,
      latest: (await published.latest(n))?.version,
    })),
  );
}

/** The portal's pages: what the partner may send and read, sending a file, and downloading. */
export function dataPages(routes: PortalRoutes): void {
  const { app, deps, route } = routes;
  app.openapi(
    route({
      method: 'get',
      path: '/',
      summary: 'Portal: the datasets the partner may send to and the products it may read',
      responses: { 200: htmlPage("the partner's data"), ...toSignIn, ...htmlProblems(401) },
    }),
    async (c) => {
      const p = c.get('principal');
      const body = homePage(view(c), sendable(deps, p), await readable(routes, p));
      return (await respond(c, deps, { title: 'Your data', section: 'home', body })) as never;
    },
  );
  app.openapi(
    route({
      method: 'get',
      path: '/datasets',
      summary: 'Portal: the datasets the partner may send to',
      responses: { 200: htmlPage('datasets'), ...toSignIn, ...htmlProblems(401) },
    }),
    async (c) => {
      const body = sendPage(view(c), sendable(deps, c.get('principal')));
      return (await respond(c, deps, { title: 'Send data', section: 'send', body })) as never;
    },
  );
  uploadPages(routes);
  productPages(routes);
}

function uploadPages({ app, deps, route }: PortalRoutes): void {
  app.openapi(
    route({
      method: 'get',
      path: '/datasets/{name}',
      summary: 'Portal: send a file to a dataset, and the past uploads with their receipts',
      request: { params: z.object({ name }) },
      responses: { 200: htmlPage('the dataset'), ...toSignIn, ...htmlProblems(401, 403, 404, 503) },
    }),
    async (c) => {
      const p = c.get('principal');
      const d = uploadableDataset(deps, p, c.req.valid('param').name);
      const max = Math.min(deps.maxUploadBytes, d.maxBytes ?? deps.maxUploadBytes);
      const body = datasetPage(view(c), d, max, await pastUploads(deps, p, d.name));
      return (await respond(c, deps, { title: d.name, section: 'send', body })) as never;
    },
  );
  app.openapi(
    route({
      method: 'post',
      path: '/datasets/{name}/uploads',
      summary: "Portal: a presigned PUT for one file (the page's script sends the file straight to it)",
      request: {
        params: z.object({ name }),
        headers: z.object({ 'x-portal-form': z.string().max(2000).optional() }),
        body: {
          required: true,
          content: {
            'application/json': {
              schema: z.object({ filename: z.string().min(1).max(200), size: z.number().int().positive() }),
            },
          },
        },
      },
      responses: {
        201: { description: 'where and how to PUT the file' },
        ...htmlProblems(400, 401, 403, 404, 413),
      },
    }),
    async (c) => {
      try {
        checkForm(c, PORTAL, c.req.valid('header')['x-portal-form']);
        const n = c.req.valid('param').name;
        const u = await newUpload(deps, c, n, c.req.valid('json'));
        const page = to(view(c), `/datasets/${n}/uploads/${u.uploadId}`);
        return c.json(
          { uploadId: u.uploadId, url: u.url, method: u.method, headers: u.headers, page },
          201,
        ) as never;
      } catch (error) {
        return jsonProblem(c, deps, error) as never;
      }
    },
  );
  app.openapi(
    route({
      method: 'get',
      path: '/datasets/{name}/uploads/{uploadId}',
      summary: 'Portal: one upload, waiting, under way, or with its receipt (the page follows it)',
      request: { params: z.object({ name, uploadId }) },
      responses: { 200: htmlPage('the upload'), ...toSignIn, ...htmlProblems(401, 403, 503) },
    }),
    async (c) => {
      const q = c.req.valid('param');
      const run = await uploadRun(deps, c.get('principal'), q.name, q.uploadId);
      const body = uploadPage(view(c), q.name, q.uploadId, run);
      return (await respond(c, deps, { title: 'Upload', section: 'send', body })) as never;
    },
  );
}

/** The script asks for upload URLs as JSON, so it is told what went wrong as a problem document. */
function jsonProblem(c: Context<AppEnv>, deps: AppDeps, error: unknown): Response {
  const p = problemOf(error, { path: c.req.path, contentType: c.req.header('content-type') }, deps.log);
  return c.body(JSON.stringify(problemBody(p, new URL(c.req.url).pathname)), p.status as 400, {
    ...p.headers,
    'content-type': 'application/problem+json',
    'cache-control': 'no-store',
  });
}

function productPages(routes: PortalRoutes): void {
  const { app, deps, published, route } = routes;
  app.openapi(
    route({
      method: 'get',
      path: '/products',
      summary: 'Portal: the products the partner may read',
      responses: { 200: htmlPage('products'), ...toSignIn, ...htmlProblems(401) },
    }),
    async (c) => {
      const body = downloadPage(view(c), await readable(routes, c.get('principal')));
      return (await respond(c, deps, { title: 'Download', section: 'download', body })) as never;
    },
  );
  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}',
      summary: "Portal: a product's versions with their files, and its OGC API address",
      request: { params: z.object({ name }) },
      responses: { 200: htmlPage('the product'), ...toSignIn, ...htmlProblems(401, 403, 404) },
    }),
    async (c) => {
      const n = c.req.valid('param').name;
      requireReadable(c.get('principal'), deps.catalog, n);
      const versions = await published.versions(n);
      const manifests = await Promise.all(
        versions.map(async (ver) => ({ ...(await published.manifest(n, ver.version)), latest: ver.latest })),
      );
      const title = deps.catalog.products.get(n)!.product.title;
      const body = productPage(view(c), n, title, link(c.get('door'), ''), manifests);
      return (await respond(c, deps, { title: n, section: 'download', body })) as never;
    },
  );
  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}/versions/{version}/map',
      summary:
        "Portal: a version on a map, with its changes (the version's QA report, in a sandbox of its own)",
      request: { params: z.object({ name, version }) },
      responses: { ...reportResponses, ...toSignIn, ...htmlProblems(401, 403, 404) },
    }),
    async (c) => {
      const q = c.req.valid('param');
      requireReadable(c.get('principal'), deps.catalog, q.name);
      const manifest = await published.manifest(q.name, q.version);
      if (!manifest.qa)
        throw notFound(`version ${q.version} of ${q.name} was published without a map (QA report)`);
      return (await reportResponse(c, deps, 'egress', manifest.qa.html)) as never;
    },
  );
  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}/versions/{version}/outputs/{output}',
      summary: 'Portal: download one output file (302 to a short-lived URL, as the partner API gives)',
      request: {
        params: z.object({
          name,
          version,
          output: NameParam.openapi({ param: { name: 'output', in: 'path' } }),
        }),
        query: z.object({ format: z.string().regex(/^[a-z0-9]+$/) }),
      },
      responses: {
        302: { description: 'to the download URL' },
        ...toSignIn,
        ...htmlProblems(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const q = c.req.valid('param');
      requireReadable(c.get('principal'), deps.catalog, q.name);
      const file = await publishedOutput(published, q.name, q.version, q.output, c.req.valid('query').format);
      return c.redirect((await signedDownload(c, deps, file.key)).url, 302) as never;
    },
  );
}
