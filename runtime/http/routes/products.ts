import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import {
  flatgeobufOutputs,
  isLockedUpstream,
  type Manifest as PublishedManifest,
} from '../../publish/manifest.ts';
import type { PublishedReader } from '../../publish/reader.ts';
import type { AppDeps, AppEnv, Principal } from '../../web/context.ts';
import { type Door, link } from '../../web/door.ts';
import { NameParam, VersionParam } from '../../web/params.ts';
import {
  collectionId,
  publishedOutput,
  requireProduct,
  requireReadable,
  requireVisible,
  signedDownload,
} from '../../web/published.ts';
import { guardedBy } from '../../web/route.ts';
import * as S from '../schemas.ts';

const tags = ['catalog'];
const productParams = z.object({ name: NameParam.openapi({ param: { name: 'name', in: 'path' } }) });
const versionParams = productParams.extend({
  version: VersionParam.openapi({ param: { name: 'version', in: 'path' } }),
});

/** What the routes of products are registered with. */
interface ProductRoutes {
  readonly app: OpenAPIHono<AppEnv>;
  readonly deps: AppDeps;
  readonly published: PublishedReader;
  readonly route: ReturnType<typeof guardedBy>;
}

/**
 * The manifest as this partner may see it: inputs from datasets its scopes do not name are left out
 * (counted in `hiddenInputs`), so lineage never leaks a dataset's name.
 */
function manifestFor(m: PublishedManifest, p: Principal, door: Door) {
  const inputs = m.inputs.filter((i) =>
    isLockedUpstream(i) ? p.scopes.sees('products', i.product) : p.scopes.sees('datasets', i.dataset),
  );
  const version = `/products/${m.product}/versions/${m.version}`;
  return {
    ...m,
    inputs,
    hiddenInputs: m.inputs.length - inputs.length,
    outputs: m.outputs.map((o) => ({ ...o })),
    links: [
      { rel: 'self', href: link(door, version), type: 'application/json' },
      ...m.outputs.map((o) => ({
        rel: 'enclosure',
        title: `${o.name} (${o.format})`,
        href: link(door, `${version}/outputs/${o.name}`, { format: o.format }),
      })),
      ...flatgeobufOutputs(m).map((o) => ({
        rel: 'items',
        title: `${o.name} as OGC API Features, pinned to this version`,
        type: 'application/geo+json',
        href: link(door, `/collections/${collectionId(m.product, o.name, m.version)}/items`),
      })),
    ],
  };
}

async function productSummary(
  product: { name: string; title?: string; description?: string },
  door: Door,
  published: PublishedReader,
) {
  const latest = await published.latest(product.name);
  const self = `/products/${product.name}`;
  return {
    name: product.name,
    title: product.title,
    description: product.description,
    latest: latest ? { version: latest.version, publishedAt: latest.publishedAt } : null,
    links: [
      { rel: 'self', href: link(door, self), type: 'application/json' },
      { rel: 'versions', href: link(door, `${self}/versions`), type: 'application/json' },
      ...(latest
        ? [{ rel: 'latest-version', href: link(door, `${self}/latest`), type: 'application/json' }]
        : []),
    ],
  };
}

/** The products this partner may see, with their latest version. */
async function visibleProducts({ deps, published }: ProductRoutes, p: Principal, door: Door) {
  const entries = [...deps.catalog.products.values()].filter((e) =>
    p.scopes.sees('products', e.product.name),
  );
  return { products: await Promise.all(entries.map((e) => productSummary(e.product, door, published))) };
}

/** A product's published versions, each with a link to its manifest. */
async function productVersions({ deps, published }: ProductRoutes, p: Principal, name: string, door: Door) {
  requireReadable(p, deps.catalog, name);
  const versions = await published.versions(name);
  return {
    product: name,
    versions: versions.map((v) => ({
      ...v,
      links: [{ rel: 'manifest', href: link(door, `/products/${name}/versions/${v.version}`) }],
    })),
  };
}

/** Products from the catalog, versions and manifests from the egress bucket: no database. */
export function productRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: AppDeps,
  published: PublishedReader,
  guard: MiddlewareHandler<AppEnv>,
): void {
  const routes: ProductRoutes = { app, deps, published, route: guardedBy(guard) };
  const { route } = routes;
  app.openapi(
    route({
      method: 'get',
      path: '/products',
      tags,
      summary: 'The products this partner may read or build, with their latest version',
      responses: {
        200: S.json(z.object({ products: z.array(S.ProductSummary) }), 'products'),
        ...S.problems(401, 429),
      },
    }),
    async (c) => c.json(await visibleProducts(routes, c.get('principal'), c.get('door')), 200),
  );
  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}',
      tags,
      summary: 'One product and its latest version',
      request: { params: productParams },
      responses: { 200: S.json(S.ProductSummary, 'the product'), ...S.problems(401, 403, 404, 429) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      requireVisible(c.get('principal'), 'products', name);
      requireProduct(deps.catalog, name);
      const entry = deps.catalog.products.get(name)!;
      return c.json(await productSummary(entry.product, c.get('door'), published), 200);
    },
  );
  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}/versions',
      tags,
      summary: "A product's published versions, newest first",
      request: { params: productParams },
      responses: {
        200: S.json(z.object({ product: z.string(), versions: z.array(S.ProductVersion) }), 'versions'),
        ...S.problems(401, 403, 404, 429),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      return c.json(await productVersions(routes, c.get('principal'), name, c.get('door')), 200);
    },
  );
  versionRoutes(routes);
}

/** A manifest as this partner may see it, once it may read the product. */
async function readableManifest(
  { deps, published }: ProductRoutes,
  c: Context<AppEnv>,
  name: string,
  version: string,
) {
  const p = c.get('principal');
  requireReadable(p, deps.catalog, name);
  return manifestFor(await published.manifest(name, version), p, c.get('door'));
}

/** One published version: its manifest (or the latest's), and a short-lived URL for each output file. */
function versionRoutes(routes: ProductRoutes): void {
  const { app, deps, published, route } = routes;
  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}/versions/{version}',
      tags,
      summary: "A published version's manifest: inputs, checks, outputs with sha256",
      request: { params: versionParams },
      responses: { 200: S.json(S.Manifest, 'the manifest'), ...S.problems(401, 403, 404, 429) },
    }),
    async (c) => {
      const { name, version } = c.req.valid('param');
      return c.json(await readableManifest(routes, c, name, version), 200);
    },
  );
  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}/latest',
      tags,
      summary: 'The manifest of the latest published version',
      request: { params: productParams },
      responses: { 200: S.json(S.Manifest, 'the manifest'), ...S.problems(401, 403, 404, 429) },
    }),
    async (c) => c.json(await readableManifest(routes, c, c.req.valid('param').name, 'latest'), 200),
  );
  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}/versions/{version}/outputs/{output}',
      tags,
      summary:
        'A short-lived download URL for one output file: 302 to it, or JSON with Accept: application/json',
      request: {
        params: versionParams.extend({
          output: NameParam.openapi({ param: { name: 'output', in: 'path' } }),
        }),
        query: z.object({
          format: z
            .string()
            .regex(/^[a-z0-9]+$/)
            .openapi({ description: 'csv, geojson, or any other format the manifest lists for the output' }),
        }),
      },
      responses: {
        200: S.json(S.Download, 'the URL, when JSON was asked for'),
        302: { description: 'redirect to the download URL' },
        ...S.problems(401, 403, 404, 429),
      },
    }),
    async (c) => {
      const { name, version, output } = c.req.valid('param');
      const { format } = c.req.valid('query');
      requireReadable(c.get('principal'), deps.catalog, name);
      const file = await publishedOutput(published, name, version, output, format);
      const signed = await signedDownload(c, deps, file.key);
      if ((c.req.header('accept') ?? '').includes('application/json'))
        return c.json(
          { url: signed.url, expiresAt: signed.expiresAt, size: file.size, sha256: file.sha256, format },
          200,
        );
      return c.redirect(signed.url, 302);
    },
  );
}
