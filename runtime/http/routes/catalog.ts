import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { archivedVersions } from '../../archive/archive.ts';
import type { Dataset as CatalogDataset } from '../../catalog/schema.ts';
import { takesUploadsFrom } from '../../partners/uploads.ts';
import type { Manifest as PublishedManifest } from '../../publish/manifest.ts';
import type { PublishedReader } from '../../publish/reader.ts';
import type { AppDeps, AppEnv, Principal } from '../context.ts';
import { type Door, link } from '../door.ts';
import { forbidden, notFound } from '../problem.ts';
import * as S from '../schemas.ts';
import { collectionId } from './features.ts';
import { guardedBy } from './route.ts';

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

/** 403 unless the partner's scopes name it: checked before existence, so a 404 never confirms a hidden name. */
export function requireVisible(p: Principal, kind: 'datasets' | 'products', name: string): void {
  if (!p.scopes.sees(kind, name)) forbiddenFor('see', kind, name);
}

export function forbiddenFor(verb: string, kind: 'datasets' | 'products', name: string): never {
  throw forbidden(`your scopes do not allow you to ${verb} ${kind}/${name}`);
}

function datasetSummary(d: CatalogDataset, door: Door) {
  return {
    name: d.name,
    title: d.title,
    description: d.description,
    format: d.format,
    links: [
      { rel: 'self', href: link(door, `/datasets/${d.name}`), type: 'application/json' },
      { rel: 'versions', href: link(door, `/datasets/${d.name}/versions`), type: 'application/json' },
    ],
  };
}

/**
 * The manifest as this partner may see it: inputs from datasets its scopes do not name are left out
 * (counted in `hiddenInputs`), so lineage never leaks a dataset's name.
 */
function manifestFor(m: PublishedManifest, p: Principal, door: Door) {
  const inputs = m.inputs.filter((i) => p.scopes.sees('datasets', i.dataset));
  return {
    ...m,
    inputs,
    hiddenInputs: m.inputs.length - inputs.length,
    links: [
      {
        rel: 'self',
        href: link(door, `/products/${m.product}/versions/${m.version}`),
        type: 'application/json',
      },
      ...m.outputs.map((o) => ({
        rel: 'enclosure',
        title: `${o.name} (${o.format})`,
        href: link(door, `/products/${m.product}/versions/${m.version}/outputs/${o.name}`, {
          format: o.format,
        }),
      })),
      ...m.outputs
        .filter((o) => (o.format as string) === 'flatgeobuf')
        .map((o) => ({
          rel: 'items',
          title: `${o.name} as OGC API Features, pinned to this version`,
          type: 'application/geo+json',
          href: link(door, `/collections/${collectionId(m.product, o.name, m.version)}/items`),
        })),
    ],
  };
}

const datasetParams = z.object({ name: S.NameParam.openapi({ param: { name: 'name', in: 'path' } }) });
const productParams = datasetParams;
const versionParams = productParams.extend({
  version: S.VersionParam.openapi({ param: { name: 'version', in: 'path' } }),
});

/** Datasets and products from the catalog, versions and manifests from the egress bucket: no database. */
export function catalogRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: AppDeps,
  published: PublishedReader,
  guard: MiddlewareHandler<AppEnv>,
): void {
  const route = guardedBy(guard);
  const { catalog } = deps;
  const tags = ['catalog'];

  app.openapi(
    route({
      method: 'get',
      path: '/datasets',
      tags,
      summary: 'The datasets this partner may read or upload to',
      responses: {
        200: json(z.object({ datasets: z.array(S.DatasetSummary) }), 'datasets'),
        ...S.problems(401, 429),
      },
    }),
    (c) => {
      const p = c.get('principal');
      const datasets = [...catalog.datasets.values()].filter((d) => p.scopes.sees('datasets', d.name));
      return c.json({ datasets: datasets.map((d) => datasetSummary(d, c.get('door'))) }, 200);
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/datasets/{name}',
      tags,
      summary: "A dataset's columns and geometry, and whether this partner may upload to it",
      request: { params: datasetParams },
      responses: { 200: json(S.Dataset, 'the dataset'), ...S.problems(401, 403, 404, 429) },
    }),
    (c) => {
      const p = c.get('principal');
      const { name } = c.req.valid('param');
      requireVisible(p, 'datasets', name);
      const d = catalog.datasets.get(name);
      if (!d) throw notFound(`no dataset "${name}"`);
      const g = d.geometry;
      const uploads = p.scopes.allows('upload', 'datasets', name) && takesUploadsFrom(d, p.partner);
      return c.json(
        {
          ...datasetSummary(d, c.get('door')),
          columns: d.columns.map((col) => ({
            name: col.name,
            type: col.type,
            description: col.description,
            required: col.required,
          })),
          geometry: { kind: g.kind, ...(g.kind === 'none' ? {} : { srid: g.targetSrid }) },
          uploads,
          ...(uploads
            ? { maxUploadBytes: Math.min(deps.maxUploadBytes, d.maxBytes ?? deps.maxUploadBytes) }
            : {}),
        },
        200,
      );
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/datasets/{name}/versions',
      tags,
      summary: "A dataset's archived versions, newest first",
      request: { params: datasetParams },
      responses: {
        200: json(z.object({ dataset: z.string(), versions: z.array(S.DatasetVersion) }), 'versions'),
        ...S.problems(401, 403, 404, 429),
      },
    }),
    async (c) => {
      const p = c.get('principal');
      const { name } = c.req.valid('param');
      if (!p.scopes.allows('read', 'datasets', name)) forbiddenFor('read', 'datasets', name);
      if (!catalog.datasets.has(name)) throw notFound(`no dataset "${name}"`);
      // The archive's own metadata.json of each version: what was received, never the database.
      const versions = await archivedVersions(deps.store, name);
      versions.sort((a, b) => (a.version < b.version ? 1 : -1));
      return c.json(
        {
          dataset: name,
          versions: versions.map((v) => ({
            version: v.version,
            receivedAt: v.receivedAt,
            size: v.size,
            sha256: v.sha256,
          })),
        },
        200,
      );
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/products',
      tags,
      summary: 'The products this partner may read or build, with their latest version',
      responses: {
        200: json(z.object({ products: z.array(S.ProductSummary) }), 'products'),
        ...S.problems(401, 429),
      },
    }),
    async (c) => {
      const p = c.get('principal');
      const door = c.get('door');
      const entries = [...catalog.products.values()].filter((e) => p.scopes.sees('products', e.product.name));
      const products = await Promise.all(entries.map((e) => productSummary(e.product, door, published)));
      return c.json({ products }, 200);
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}',
      tags,
      summary: 'One product and its latest version',
      request: { params: productParams },
      responses: { 200: json(S.ProductSummary, 'the product'), ...S.problems(401, 403, 404, 429) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      requireVisible(c.get('principal'), 'products', name);
      const entry = catalog.products.get(name);
      if (!entry) throw notFound(`no product "${name}"`);
      return c.json(await productSummary(entry.product, c.get('door'), published), 200);
    },
  );

  const readable = (p: Principal, name: string) => {
    if (!p.scopes.allows('read', 'products', name)) forbiddenFor('read', 'products', name);
    if (!catalog.products.has(name)) throw notFound(`no product "${name}"`);
  };

  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}/versions',
      tags,
      summary: "A product's published versions, newest first",
      request: { params: productParams },
      responses: {
        200: json(z.object({ product: z.string(), versions: z.array(S.ProductVersion) }), 'versions'),
        ...S.problems(401, 403, 404, 429),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      readable(c.get('principal'), name);
      const door = c.get('door');
      const versions = await published.versions(name);
      return c.json(
        {
          product: name,
          versions: versions.map((v) => ({
            ...v,
            links: [{ rel: 'manifest', href: link(door, `/products/${name}/versions/${v.version}`) }],
          })),
        },
        200,
      );
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}/versions/{version}',
      tags,
      summary: "A published version's manifest: inputs, checks, outputs with sha256",
      request: { params: versionParams },
      responses: { 200: json(S.Manifest, 'the manifest'), ...S.problems(401, 403, 404, 429) },
    }),
    async (c) => {
      const { name, version } = c.req.valid('param');
      const p = c.get('principal');
      readable(p, name);
      return c.json(manifestFor(await published.manifest(name, version), p, c.get('door')), 200);
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/products/{name}/latest',
      tags,
      summary: 'The manifest of the latest published version',
      request: { params: productParams },
      responses: { 200: json(S.Manifest, 'the manifest'), ...S.problems(401, 403, 404, 429) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const p = c.get('principal');
      readable(p, name);
      return c.json(manifestFor(await published.manifest(name, 'latest'), p, c.get('door')), 200);
    },
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
          output: S.NameParam.openapi({ param: { name: 'output', in: 'path' } }),
        }),
        query: z.object({
          format: z
            .string()
            .regex(/^[a-z0-9]+$/)
            .openapi({ description: 'csv, geojson, or any other format the manifest lists for the output' }),
        }),
      },
      responses: {
        200: json(S.Download, 'the URL, when JSON was asked for'),
        302: { description: 'redirect to the download URL' },
        ...S.problems(401, 403, 404, 429),
      },
    }),
    async (c) => {
      const { name, version, output } = c.req.valid('param');
      const { format } = c.req.valid('query');
      readable(c.get('principal'), name);
      const manifest = await published.manifest(name, version);
      const file = manifest.outputs.find((o) => o.name === output && (o.format as string) === format);
      if (!file)
        throw notFound(
          `version ${manifest.version} of "${name}" has no output "${output}" as ${format} (it has: ${manifest.outputs.map((o) => `${o.name} ${o.format}`).join(', ')})`,
        );
      const signed = await deps.urls.download(file.key, {
        door: c.get('door'),
        signingKey: c.get('signingKey'),
      });
      if ((c.req.header('accept') ?? '').includes('application/json'))
        return c.json(
          { url: signed.url, expiresAt: signed.expiresAt, size: file.size, sha256: file.sha256, format },
          200,
        );
      return c.redirect(signed.url, 302);
    },
  );
}

async function productSummary(
  product: { name: string; title?: string; description?: string },
  door: Door,
  published: PublishedReader,
) {
  const latest = await published.latest(product.name);
  return {
    name: product.name,
    title: product.title,
    description: product.description,
    latest: latest ? { version: latest.version, publishedAt: latest.publishedAt } : null,
    links: [
      { rel: 'self', href: link(door, `/products/${product.name}`), type: 'application/json' },
      { rel: 'versions', href: link(door, `/products/${product.name}/versions`), type: 'application/json' },
      ...(latest
        ? [
            {
              rel: 'latest-version',
              href: link(door, `/products/${product.name}/latest`),
              type: 'application/json',
            },
          ]
        : []),
    ],
  };
}
