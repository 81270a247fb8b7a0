import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { Area, Bbox, FlatGeobufFile } from '../../features/flatgeobuf.ts';
import type { Manifest, PublishedFile } from '../../publish/manifest.ts';
import type { PublishedReader } from '../../publish/reader.ts';
import type { AppDeps, AppEnv, Principal } from '../context.ts';
import { type Door, link } from '../door.ts';
import { badRequest, notFound } from '../problem.ts';
import * as S from '../schemas.ts';
import { signToken, verifyToken } from '../tokens.ts';
import { forbiddenFor } from './catalog.ts';
import { guardedBy } from './route.ts';

export const CONFORMANCE = [
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30',
];
const CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84';
const GEOJSON = 'application/geo+json';
export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 10_000;

/** `<product>.<output>` follows the latest version; `<product>.<output>.<version>` is pinned to one. */
export function collectionId(product: string, output: string, version?: string): string {
  return version ? `${product}.${output}.${version}` : `${product}.${output}`;
}

interface CollectionRef {
  readonly product: string;
  readonly output: string;
  readonly version?: string;
}

function parseCollectionId(id: string): CollectionRef {
  const m = /^([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)(?:\.([A-Za-z0-9][A-Za-z0-9_-]*))?$/.exec(id);
  if (!m)
    throw notFound(`no collection "${id}": ids are <product>.<output>, or <product>.<output>.<version>`);
  return { product: m[1]!, output: m[2]!, version: m[3] };
}

/** What a cursor pins: the collection, the version it was first read at, where to go on, and the filter. */
const Cursor = z.object({
  c: z.string(),
  v: z.string(),
  p: z.number().int().nonnegative(),
  b: z.tuple([z.number(), z.number(), z.number(), z.number()]).nullable(),
  m: z.number().int().nonnegative(),
});
type Cursor = z.infer<typeof Cursor>;

function parseBbox(text: string): Bbox {
  const parts = text.split(',').map((s) => Number(s.trim()));
  if ((parts.length !== 4 && parts.length !== 6) || parts.some((n) => !Number.isFinite(n)))
    throw badRequest(`bbox must be four numbers, minLon,minLat,maxLon,maxLat (got "${text}")`);
  // A 3D bbox (minx,miny,minz,maxx,maxy,maxz) filters on its 2D footprint.
  const [a, b, c, d] =
    parts.length === 6 ? [parts[0]!, parts[1]!, parts[3]!, parts[4]!] : (parts as number[]);
  if (b! > d!) throw badRequest(`bbox must have minLat <= maxLat (got "${text}")`);
  // minLon > maxLon is a box across the antimeridian (Core: "170,50,-170,55"), not a mistake.
  return [a!, b!, c!, d!];
}

/** The area a bbox covers: itself, or across the antimeridian its part east of minLon and west of maxLon. */
export function bboxArea(b: Bbox): Area {
  if (b[0] <= b[2]) return b;
  return [
    [b[0], b[1], 180, b[3]],
    [-180, b[1], b[2], b[3]],
  ];
}

/**
 * RFC 3339 date-times as Core's `datetime` takes them: one instant, or an interval whose open end is `..`
 * or empty. The published outputs have no temporal property, so every feature matches any valid value (Core
 * filters only on a temporal property the collection has); a value that is not one is refused (400).
 */
const INSTANT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$/i;
export function checkDatetime(text: string): void {
  const parts = text.split('/');
  const valid = (p: string) => INSTANT.test(p) && !Number.isNaN(Date.parse(p));
  const ok =
    parts.length === 1
      ? valid(parts[0]!)
      : parts.length === 2 &&
        parts.some((p) => p !== '..' && p !== '') &&
        parts.every((p) => p === '..' || p === '' || valid(p)) &&
        !(valid(parts[0]!) && valid(parts[1]!) && Date.parse(parts[0]!) > Date.parse(parts[1]!));
  if (!ok)
    throw badRequest(
      `datetime must be an RFC 3339 date-time or an interval start/end, with .. for an open end (got "${text}")`,
    );
}

/** Query parameters every OGC resource takes: the format, of which JSON is the only one. */
const formatParam = z
  .enum(['json', 'geojson', 'application/json', 'application/geo+json'])
  .optional()
  .openapi({ description: 'the response format; JSON (GeoJSON for features) is the only one' });
/** OGC resources refuse parameters they do not define (Core, /req/core/query-param-unknown), all alike. */
export const ogcQuery = z.object({ f: formatParam }).strict();

const collectionParams = z.object({
  collectionId: z
    .string()
    .max(200)
    .openapi({ param: { name: 'collectionId', in: 'path' }, example: 'county_places.us_places' }),
});

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
  const route = guardedBy(guard);
  const tags = ['features'];

  /** The manifest and FlatGeobuf output a collection id names, once the partner may read its product. */
  const resolve = async (p: Principal, id: string, version?: string) => {
    const ref = parseCollectionId(id);
    if (!p.scopes.allows('read', 'products', ref.product)) forbiddenFor('read', 'products', ref.product);
    if (!deps.catalog.products.has(ref.product)) throw notFound(`no product "${ref.product}"`);
    const manifest = await published.manifest(ref.product, version ?? ref.version ?? 'latest');
    const output = manifest.outputs.find(
      (o) => o.name === ref.output && (o.format as string) === 'flatgeobuf',
    );
    if (!output)
      throw notFound(
        `no collection "${id}": version ${manifest.version} has no FlatGeobuf of "${ref.output}"`,
      );
    return { ref, manifest, output };
  };

  const describe = async (
    door: Door,
    id: string,
    manifest: Manifest,
    output: PublishedFile,
    pinned: boolean,
  ) => {
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
  };

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
    async (c) => {
      const p = c.get('principal');
      const door = c.get('door');
      const products = [...deps.catalog.products.keys()].filter((n) =>
        p.scopes.allows('read', 'products', n),
      );
      const lists = await Promise.all(
        products.map(async (name) => {
          if (!(await published.latest(name))) return [];
          const manifest = await published.manifest(name, 'latest');
          const fgb = (m: Manifest) => m.outputs.filter((o) => (o.format as string) === 'flatgeobuf');
          const latest = fgb(manifest).map((o) =>
            describe(door, collectionId(name, o.name), manifest, o, false),
          );
          // Every collection the API serves is listed (Core): the pinned ones too, newest first.
          const summaries = [...(await published.versions(name))].sort((a, b) =>
            a.version < b.version ? 1 : -1,
          );
          // Manifests are cached once read (listing versions read them already).
          const versions = await Promise.all(summaries.map((v) => published.manifest(name, v.version)));
          const pinned = versions.flatMap((m) =>
            fgb(m).map((o) => describe(door, collectionId(name, o.name, m.version), m, o, true)),
          );
          return Promise.all([...latest, ...pinned]);
        }),
      );
      return c.json(
        {
          collections: lists.flat(),
          links: [{ rel: 'self', href: link(door, '/collections'), type: 'application/json' }],
        },
        200,
      );
    },
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
      const { ref, manifest, output } = await resolve(c.get('principal'), id);
      return c.json(await describe(c.get('door'), id, manifest, output, Boolean(ref.version)), 200);
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/collections/{collectionId}/items',
      tags,
      summary: 'A page of features; `next` links carry a signed cursor pinned to the version first read',
      request: {
        params: collectionParams,
        query: z
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
              description:
                'minLon,minLat,maxLon,maxLat (CRS84); minLon > maxLon is a box across the antimeridian',
            }),
            datetime: z.string().max(100).optional().openapi({
              description:
                'an RFC 3339 instant or interval (`start/end`, `..` open); the outputs have no time property, so every feature matches',
            }),
            f: formatParam,
            cursor: z
              .string()
              .max(2000)
              .optional()
              .openapi({ description: 'from a `next` link; opaque and signed' }),
          })
          .strict(),
      },
      responses: {
        200: { description: 'a page of features', content: { [GEOJSON]: { schema: S.FeatureCollection } } },
        ...S.problems(400, 401, 403, 404, 429),
      },
    }),
    async (c) => {
      const { collectionId: id } = c.req.valid('param');
      const q = c.req.valid('query');
      if (q.datetime !== undefined) checkDatetime(q.datetime);
      const door = c.get('door');
      const key = c.get('signingKey');
      let cursor: Cursor | undefined;
      if (q.cursor) {
        const parsed = Cursor.safeParse(verifyToken(key, 'cursor', q.cursor));
        if (!parsed.success)
          throw badRequest('the cursor is not valid: it was changed, or not made by this server');
        cursor = parsed.data;
      }
      const ref = parseCollectionId(id);
      const base = collectionId(ref.product, ref.output);
      if (cursor && (cursor.c !== base || (ref.version && cursor.v !== ref.version)))
        throw badRequest(`the cursor belongs to another collection than "${id}"`);
      const bbox = q.bbox ? parseBbox(q.bbox) : (cursor?.b ?? undefined);
      if (cursor && q.bbox && JSON.stringify(bbox) !== JSON.stringify(cursor.b))
        throw badRequest('bbox differs from the one the cursor was made for; start again without a cursor');
      // The first page resolves `latest`; every later page reads the version its cursor pins.
      const { manifest, output } = await resolve(c.get('principal'), id, cursor?.v);
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
        links.push({
          rel: 'next',
          type: GEOJSON,
          href: link(door, `/collections/${id}/items`, {
            limit: q.limit,
            cursor: signToken(key, 'cursor', next),
          }),
        });
      }
      return c.body(
        JSON.stringify({
          type: 'FeatureCollection',
          features: page.features,
          numberMatched: matched,
          numberReturned: page.features.length,
          timeStamp: new Date().toISOString(),
          links,
        }),
        200,
        { 'content-type': GEOJSON },
      ) as never;
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
      const { collectionId: id, featureId: fid } = c.req.valid('param');
      const door = c.get('door');
      const { output } = await resolve(c.get('principal'), id);
      const file: FlatGeobufFile = await published.flatgeobuf(output.key, output.size);
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
      return c.body(JSON.stringify({ ...feature, links }), 200, { 'content-type': GEOJSON }) as never;
    },
  );
}

function itemsQuery(q: { limit: number; bbox?: string; datetime?: string; cursor?: string }) {
  return { limit: q.limit, bbox: q.bbox, datetime: q.datetime, cursor: q.cursor };
}

/** The landing page and conformance: public, they name nothing a partner could not see. */
export function landingRoutes(app: OpenAPIHono<AppEnv>): void {
  const tags = ['features'];
  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags,
      summary: 'Landing page (OGC API)',
      request: { query: ogcQuery },
      responses: {
        200: { description: 'landing page', content: { 'application/json': { schema: S.LandingPage } } },
        ...S.problems(400),
      },
    }),
    (c) => {
      const door = c.get('door');
      return c.json(
        {
          title: 'Strata partner API',
          description:
            'Datasets, published data products and their versions; OGC API – Features over published outputs; uploads and builds.',
          links: [
            { rel: 'self', href: link(door, '/'), type: 'application/json' },
            {
              rel: 'service-desc',
              href: link(door, '/api'),
              type: 'application/vnd.oai.openapi+json;version=3.0',
              title: 'OpenAPI 3.0',
            },
            {
              rel: 'service-desc',
              href: link(door, '/openapi.json'),
              type: 'application/vnd.oai.openapi+json;version=3.1',
              title: 'OpenAPI 3.1',
            },
            { rel: 'conformance', href: link(door, '/conformance'), type: 'application/json' },
            { rel: 'data', href: link(door, '/collections'), type: 'application/json' },
            {
              rel: 'service-doc',
              href: link(door, '/api.html'),
              type: 'text/html',
              title: 'The API documentation, as a page',
            },
          ],
        },
        200,
      );
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/conformance',
      tags,
      summary: 'The OGC API – Features conformance classes this API implements',
      request: { query: ogcQuery },
      responses: {
        200: { description: 'conformance', content: { 'application/json': { schema: S.Conformance } } },
        ...S.problems(400),
      },
    }),
    (c) => c.json({ conformsTo: CONFORMANCE }, 200),
  );
}
