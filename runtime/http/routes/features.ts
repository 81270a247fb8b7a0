import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { flatgeobufOutputs, type Manifest, type PublishedFile } from '../../publish/manifest.ts';
import type { PublishedReader } from '../../publish/reader.ts';
import type { AppDeps, AppEnv, Principal } from '../../web/context.ts';
import { type Door, link } from '../../web/door.ts';
import { badRequest, notFound } from '../../web/problem.ts';
import { collectionId, parseCollectionId, resolveCollection } from '../../web/published.ts';
import { guardedBy } from '../../web/route.ts';
import { signToken } from '../../web/tokens.ts';
import * as S from '../schemas.ts';
import {
  bboxArea,
  type Cursor,
  checkDatetime,
  formatParam,
  itemsQuery,
  ogcQuery,
  parseBbox,
  readCursor,
} from './ogc-query.ts';

const CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84';
const GEOJSON = 'application/geo+json';
export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 10_000;

const collectionParams = z.object({
  collectionId: z
    .string()
    .max(200)
    .openapi({ param: { name: 'collectionId', in: 'path' }, example: 'county_places.us_places' }),
});

const ItemsQuery = z
  .object({
    // Above the maximum the page is the maximum (Core lets a server return fewer than asked).
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .default(DEFAULT_LIMIT)
      .transform((n) => Math.min(n, MAX_LIMIT))
      .openapi({
        description: `features per page (default ${DEFAULT_LIMIT}; above ${MAX_LIMIT}, ${MAX_LIMIT})`,
      }),
    bbox: z.string().optional().openapi({
      description: 'minLon,minLat,maxLon,maxLat (CRS84); minLon > maxLon is a box across the antimeridian',
    }),
    datetime: z.string().max(100).optional().openapi({
      description:
        'an RFC 3339 instant or interval (`start/end`, `..` open); the outputs have no time property, so every feature matches',
    }),
    f: formatParam,
    cursor: z.string().max(2000).optional().openapi({ description: 'from a `next` link; opaque and signed' }),
  })
  .strict();
type ItemsQuery = z.infer<typeof ItemsQuery>;

/** What the routes of OGC API – Features are registered with. */
interface FeatureRoutes {
  readonly app: OpenAPIHono<AppEnv>;
  readonly deps: AppDeps;
  readonly published: PublishedReader;
  readonly route: ReturnType<typeof guardedBy>;
}

/** A collection as OGC API – Features describes it: at the latest version, or pinned to one. */
async function describe(
  { deps, published }: FeatureRoutes,
  door: Door,
  id: string,
  manifest: Manifest,
  output: PublishedFile,
  pinned: boolean,
) {
  const file = await published.flatgeobuf(output.key, output.size);
  const env = file.header.envelope;
  const entry = deps.catalog.products.get(manifest.product);
  const title = `${entry?.product.title ?? manifest.product}: ${output.name}`;
  return {
    id,
    title: pinned ? `${title} (version ${manifest.version})` : title,
    description: pinned
      ? `${output.rows} features of ${output.name}, pinned to version ${manifest.version}`
      : `${output.rows} features of ${output.name}, at the latest version (now ${manifest.version})`,
    itemType: 'feature' as const,
    crs: [CRS84],
    extent: { spatial: { bbox: env ? [[env[0]!, env[1]!, env[2]!, env[3]!]] : [], crs: CRS84 } },
    links: [
      { rel: 'self', href: link(door, `/collections/${id}`), type: 'application/json' },
      { rel: 'items', href: link(door, `/collections/${id}/items`), type: GEOJSON },
      {
        rel: 'describedby',
        href: link(door, `/products/${manifest.product}/versions/${manifest.version}`),
        type: 'application/json',
      },
    ],
  };
}

/** A product's collections: each FlatGeobuf output at the latest version, then pinned to each version. */
async function productCollections(routes: FeatureRoutes, door: Door, name: string) {
  const { published } = routes;
  // One listing (newest first, the pointer read once) gives both: which version is latest, and every version
  // the API serves pinned (Core lists them all). Its manifests are cached as it reads them.
  const summaries = await published.versions(name);
  const latestVersion = summaries.find((v) => v.latest)?.version;
  if (!latestVersion) return [];
  const versions = await Promise.all(summaries.map((v) => published.manifest(name, v.version)));
  const manifest = versions[summaries.findIndex((v) => v.version === latestVersion)]!;
  const latest = flatgeobufOutputs(manifest).map((o) =>
    describe(routes, door, collectionId(name, o.name), manifest, o, false),
  );
  const pinned = versions.flatMap((m) =>
    flatgeobufOutputs(m).map((o) =>
      describe(routes, door, collectionId(name, o.name, m.version), m, o, true),
    ),
  );
  return Promise.all([...latest, ...pinned]);
}

/** Every collection of every product this partner may read. */
async function collections(routes: FeatureRoutes, p: Principal, door: Door) {
  const products = [...routes.deps.catalog.products.keys()].filter((n) =>
    p.scopes.allows('read', 'products', n),
  );
  const lists = await Promise.all(products.map((name) => productCollections(routes, door, name)));
  return {
    collections: lists.flat(),
    links: [{ rel: 'self', href: link(door, '/collections'), type: 'application/json' }],
  };
}

/**
 * A page of features. The first page resolves `latest`; every later page reads the version its cursor
 * pins, with the cursor's bbox and count.
 */
async function itemsPage({ deps, published }: FeatureRoutes, c: Context<AppEnv>, id: string, q: ItemsQuery) {
  if (q.datetime !== undefined) checkDatetime(q.datetime);
  const door = c.get('door');
  const key = c.get('signingKey');
  const cursor = q.cursor ? readCursor(key, q.cursor) : undefined;
  const ref = parseCollectionId(id);
  const base = collectionId(ref.product, ref.output);
  if (cursor && (cursor.c !== base || (ref.version && cursor.v !== ref.version)))
    throw badRequest(`the cursor belongs to another collection than "${id}"`);
  const bbox = q.bbox ? parseBbox(q.bbox) : (cursor?.b ?? undefined);
  if (cursor && q.bbox && JSON.stringify(bbox) !== JSON.stringify(cursor.b))
    throw badRequest('bbox differs from the one the cursor was made for; start again without a cursor');
  const { manifest, output } = await resolveCollection(
    c.get('principal'),
    deps.catalog,
    published,
    id,
    cursor?.v,
  );
  const file = await published.flatgeobuf(output.key, output.size);
  const from = cursor?.p ?? 0;
  const area = bbox ? bboxArea(bbox) : undefined;
  const page = area ? await file.search(area, from, q.limit) : await file.page(from, q.limit);
  const matched = cursor?.m ?? (area ? await file.countMeeting(area) : file.count);
  const links = [
    { rel: 'self', href: link(door, `/collections/${id}/items`, itemsQuery(q)), type: GEOJSON },
    { rel: 'collection', href: link(door, `/collections/${id}`), type: 'application/json' },
  ];
  if (page.next !== undefined) {
    const next: Cursor = {
      c: base,
      v: manifest.version,
      p: page.next,
      b: bbox ? [...bbox] : null,
      m: matched,
    };
    const href = link(door, `/collections/${id}/items`, {
      limit: q.limit,
      cursor: signToken(key, 'cursor', next),
    });
    links.push({ rel: 'next', type: GEOJSON, href });
  }
  return {
    type: 'FeatureCollection',
    features: page.features,
    numberMatched: matched,
    numberReturned: page.features.length,
    timeStamp: new Date().toISOString(),
    links,
  };
}

/** One feature by its position in the published file, with its links. */
async function oneFeature({ deps, published }: FeatureRoutes, c: Context<AppEnv>, id: string, fid: string) {
  const door = c.get('door');
  const { output } = await resolveCollection(c.get('principal'), deps.catalog, published, id);
  const file = await published.flatgeobuf(output.key, output.size);
  const featureId = /^(0|[1-9]\d{0,15})$/.test(fid) ? Number(fid) : -1;
  const feature = await file.feature(featureId);
  if (!feature && featureId < 0)
    throw notFound(
      `collection "${id}" has no feature "${fid}": feature ids are positions, 0 to ${file.count - 1}`,
    );
  if (!feature) throw notFound(`collection "${id}" has no feature ${featureId} (it has ${file.count})`);
  const links = [
    { rel: 'self', href: link(door, `/collections/${id}/items/${featureId}`), type: GEOJSON },
    { rel: 'collection', href: link(door, `/collections/${id}`), type: 'application/json' },
  ];
  return { ...feature, links };
}

/**
 * OGC API – Features, Part 1 (Core, GeoJSON, OpenAPI 3.0) over the FlatGeobuf file of each published
 * output: read by ranges from the egress bucket, so a page never wakes the database.
 */
export function featureRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: AppDeps,
  published: PublishedReader,
  guard: MiddlewareHandler<AppEnv>,
): void {
  const routes: FeatureRoutes = { app, deps, published, route: guardedBy(guard) };
  const { route } = routes;
  const tags = ['features'];
  app.openapi(
    route({
      method: 'get',
      path: '/collections',
      tags,
      summary:
        'A collection per FlatGeobuf output of each readable product: at its latest version, and pinned to each published version',
      request: { query: ogcQuery },
      responses: {
        200: { description: 'collections', content: { 'application/json': { schema: S.Collections } } },
        ...S.problems(400, 401, 429),
      },
    }),
    async (c) => c.json(await collections(routes, c.get('principal'), c.get('door')), 200),
  );
  app.openapi(
    route({
      method: 'get',
      path: '/collections/{collectionId}',
      tags,
      summary: 'One collection: latest (`<product>.<output>`) or pinned (`<product>.<output>.<version>`)',
      request: { params: collectionParams, query: ogcQuery },
      responses: {
        200: { description: 'the collection', content: { 'application/json': { schema: S.Collection } } },
        ...S.problems(400, 401, 403, 404, 429),
      },
    }),
    async (c) => {
      const { collectionId: id } = c.req.valid('param');
      const { ref, manifest, output } = await resolveCollection(
        c.get('principal'),
        deps.catalog,
        published,
        id,
      );
      return c.json(await describe(routes, c.get('door'), id, manifest, output, Boolean(ref.version)), 200);
    },
  );
  itemRoutes(routes, tags);
}

/** Features: a page of a collection's items, and one item. */
function itemRoutes(routes: FeatureRoutes, tags: string[]): void {
  const { app, route } = routes;
  app.openapi(
    route({
      method: 'get',
      path: '/collections/{collectionId}/items',
      tags,
      summary: 'A page of features; `next` links carry a signed cursor pinned to the version first read',
      request: { params: collectionParams, query: ItemsQuery },
      responses: {
        200: { description: 'a page of features', content: { [GEOJSON]: { schema: S.FeatureCollection } } },
        ...S.problems(400, 401, 403, 404, 429),
      },
    }),
    async (c) => {
      const page = await itemsPage(routes, c, c.req.valid('param').collectionId, c.req.valid('query'));
      return c.body(JSON.stringify(page), 200, { 'content-type': GEOJSON }) as never;
    },
  );
  app.openapi(
    route({
      method: 'get',
      path: '/collections/{collectionId}/items/{featureId}',
      tags,
      summary: 'One feature by its id (its position in the published file)',
      request: {
        params: collectionParams.extend({
          // Any text: an id that is not a position names no feature (404), as any unknown id would.
          featureId: z
            .string()
            .max(40)
            .openapi({ param: { name: 'featureId', in: 'path' }, description: 'a position: 0, 1, ...' }),
        }),
        query: ogcQuery,
      },
      responses: {
        200: { description: 'the feature', content: { [GEOJSON]: { schema: S.Feature } } },
        ...S.problems(400, 401, 403, 404, 429),
      },
    }),
    async (c) => {
      const { collectionId: id, featureId } = c.req.valid('param');
      const feature = await oneFeature(routes, c, id, featureId);
      return c.body(JSON.stringify(feature), 200, { 'content-type': GEOJSON }) as never;
    },
  );
}
