import { z } from '@hono/zod-openapi';
import type { Catalog } from '../../catalog-files/loader.ts';
import type { PublishedReader } from '../../publish/reader.ts';
import { htmlPage, htmlProblems, toSignIn, view } from '../../web/pages.ts';
import { NameParam, VersionParam } from '../../web/params.ts';
import { notFound } from '../../web/problem.ts';
import { publishedOutput, requireProduct, signedDownload } from '../../web/published.ts';
import { reportResponse, reportResponses } from '../../web/report.ts';
import { type ProductRow, productPage, productsPage } from '../pages/products.ts';
import { freshness } from '../reads.ts';
import { type ConsoleRoutes, respond } from '../respond.ts';

const name = NameParam.openapi({ param: { name: 'name', in: 'path' } });
const version = VersionParam.openapi({ param: { name: 'version', in: 'path' } });

/** A product as its rows in the console show it: its latest version, how many, how fresh. */
async function productRow(
  catalog: Catalog,
  published: PublishedReader,
  product: string,
): Promise<ProductRow> {
  const entry = catalog.products.get(product)!;
  const [latest, versions] = await Promise.all([published.latest(product), published.versions(product)]);
  return {
    entry,
    latest,
    versions: versions.length,
    freshness: freshness(entry.product.schedule, latest),
    manifest: latest ? await published.manifest(product, latest.version) : undefined,
  };
}

/** Every product of the catalog, by name. */
export const productRows = (catalog: Catalog, published: PublishedReader) =>
  Promise.all([...catalog.products.keys()].sort().map((n) => productRow(catalog, published, n)));

/** Products: the list, one product's versions, a version's QA report, and its outputs' downloads. */
export function productPages(routes: ConsoleRoutes): void {
  const { app, deps, published, route } = routes;
  const { catalog } = deps;
  app.openapi(
    route({
      method: 'get',
      path: '/products',
      summary: 'Console: products, their latest version, checks and freshness',
      responses: { 200: htmlPage('products'), ...toSignIn, ...htmlProblems(401, 403) },
    }),
    async (c) => {
      const body = productsPage(view(c), await productRows(catalog, published));
      return (await respond(c, { title: 'Products', section: 'products', body })) as never;
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}',
      summary: "Console: a product's versions with their checks, changes, QA reports and downloads",
      request: { params: z.object({ name }) },
      responses: { 200: htmlPage('the product'), ...toSignIn, ...htmlProblems(401, 403, 404) },
    }),
    async (c) => {
      const n = c.req.valid('param').name;
      requireProduct(catalog, n);
      const [row, versions] = await Promise.all([productRow(catalog, published, n), published.versions(n)]);
      const manifests = await Promise.all(
        versions.map(async (ver) => ({ ...(await published.manifest(n, ver.version)), latest: ver.latest })),
      );
      const body = productPage(view(c), row, manifests);
      return (await respond(c, { title: n, section: 'products', body })) as never;
    },
  );
  versionFiles(routes);
}

/** What a published version offers to download: its QA report, and each output file. */
function versionFiles({ app, deps, published, route }: ConsoleRoutes): void {
  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}/versions/{version}/qa',
      summary: "Console: a published version's QA report (qa.html beside its manifest)",
      request: { params: z.object({ name, version }) },
      responses: { ...reportResponses, ...toSignIn, ...htmlProblems(401, 403, 404) },
    }),
    async (c) => {
      const p = c.req.valid('param');
      requireProduct(deps.catalog, p.name);
      const manifest = await published.manifest(p.name, p.version);
      if (!manifest.qa) throw notFound(`version ${p.version} of ${p.name} was published without a QA report`);
      return (await reportResponse(c, deps, 'egress', manifest.qa.html)) as never;
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}/versions/{version}/outputs/{output}',
      summary: 'Console: download one output file (302 to a short-lived URL, as the partner API gives)',
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
      const p = c.req.valid('param');
      requireProduct(deps.catalog, p.name);
      const file = await publishedOutput(published, p.name, p.version, p.output, c.req.valid('query').format);
      return c.redirect((await signedDownload(c, deps, file.key)).url, 302) as never;
    },
  );
}
