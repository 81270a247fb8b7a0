import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { archivedVersions } from '../../archive/archive.ts';
import type { Dataset as CatalogDataset } from '../../catalog/schema.ts';
import type { Catalog } from '../../catalog-files/loader.ts';
import { takesUploadsFrom } from '../../partners/uploads.ts';
import type { ObjectStore } from '../../ports/object-store.ts';
import type { AppDeps, AppEnv, Principal } from '../../web/context.ts';
import { type Door, link } from '../../web/door.ts';
import { NameParam } from '../../web/params.ts';
import { notFound } from '../../web/problem.ts';
import { forbiddenFor, requireVisible } from '../../web/published.ts';
import { guardedBy } from '../../web/route.ts';
import * as S from '../schemas.ts';

const tags = ['catalog'];
const datasetParams = z.object({ name: NameParam.openapi({ param: { name: 'name', in: 'path' } }) });

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

/** The datasets this partner may see. */
function visibleDatasets(catalog: Catalog, p: Principal, door: Door) {
  const datasets = [...catalog.datasets.values()].filter((d) => p.scopes.sees('datasets', d.name));
  return { datasets: datasets.map((d) => datasetSummary(d, door)) };
}

/** A dataset's columns and geometry, and whether (and how much) this partner may upload to it. */
function datasetDetail(deps: AppDeps, p: Principal, name: string, door: Door) {
  requireVisible(p, 'datasets', name);
  const d = deps.catalog.datasets.get(name);
  if (!d) throw notFound(`no dataset "${name}"`);
  const g = d.geometry;
  const uploads = p.scopes.allows('upload', 'datasets', name) && takesUploadsFrom(d, p.partner);
  return {
    ...datasetSummary(d, door),
    columns: d.columns.map((col) => ({
      name: col.name,
      type: col.type,
      description: col.description,
      required: col.required,
    })),
    geometry: { kind: g.kind, ...(g.kind === 'none' ? {} : { srid: g.targetSrid }) },
    uploads,
    ...(uploads ? { maxUploadBytes: Math.min(deps.maxUploadBytes, d.maxBytes ?? deps.maxUploadBytes) } : {}),
  };
}

/** A dataset's archived versions, newest first: the archive's own metadata.json of each, never the database. */
async function datasetVersions(store: ObjectStore, catalog: Catalog, p: Principal, name: string) {
  if (!p.scopes.allows('read', 'datasets', name)) forbiddenFor('read', 'datasets', name);
  if (!catalog.datasets.has(name)) throw notFound(`no dataset "${name}"`);
  const versions = await archivedVersions(store, name);
  versions.sort((a, b) => (a.version < b.version ? 1 : -1));
  return {
    dataset: name,
    versions: versions.map((v) => ({
      version: v.version,
      receivedAt: v.receivedAt,
      size: v.size,
      sha256: v.sha256,
    })),
  };
}

/** Datasets from the catalog, their versions from the archive bucket: no database. */
export function datasetRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: AppDeps,
  guard: MiddlewareHandler<AppEnv>,
): void {
  const route = guardedBy(guard);
  app.openapi(
    route({
      method: 'get',
      path: '/datasets',
      tags,
      summary: 'The datasets this partner may read or upload to',
      responses: {
        200: S.json(z.object({ datasets: z.array(S.DatasetSummary) }), 'datasets'),
        ...S.problems(401, 429),
      },
    }),
    (c) => c.json(visibleDatasets(deps.catalog, c.get('principal'), c.get('door')), 200),
  );
  app.openapi(
    route({
      method: 'get',
      path: '/datasets/{name}',
      tags,
      summary: "A dataset's columns and geometry, and whether this partner may upload to it",
      request: { params: datasetParams },
      responses: { 200: S.json(S.Dataset, 'the dataset'), ...S.problems(401, 403, 404, 429) },
    }),
    (c) => c.json(datasetDetail(deps, c.get('principal'), c.req.valid('param').name, c.get('door')), 200),
  );
  app.openapi(
    route({
      method: 'get',
      path: '/datasets/{name}/versions',
      tags,
      summary: "A dataset's archived versions, newest first",
      request: { params: datasetParams },
      responses: {
        200: S.json(z.object({ dataset: z.string(), versions: z.array(S.DatasetVersion) }), 'versions'),
        ...S.problems(401, 403, 404, 429),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      return c.json(await datasetVersions(deps.store, deps.catalog, c.get('principal'), name), 200);
    },
  );
}
