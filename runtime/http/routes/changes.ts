import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { changePage, compose, feedChain } from '../../features/changes.ts';
import type { PublishedReader } from '../../publish/reader.ts';
import type { AppDeps, AppEnv } from '../../web/context.ts';
import { link } from '../../web/door.ts';
import { badRequest, HttpProblem } from '../../web/problem.ts';
import { collectionId, resolveCollection } from '../../web/published.ts';
import { guardedBy } from '../../web/route.ts';
import { signToken, verifyToken } from '../../web/tokens.ts';
import * as S from '../schemas.ts';
import { formatParam } from './ogc-query.ts';

const GEOJSON = 'application/geo+json';
export const DEFAULT_CHANGES_LIMIT = 1000;
export const MAX_CHANGES_LIMIT = 10_000;
/** Lines read into one page at most, whatever its limit: a page stays well inside Lambda's response. */
const MAX_PAGE_BYTES = 2 * 1024 * 1024;

const ChangesQuery = z
  .object({
    since: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/)
      .max(100)
      .openapi({ description: 'the version the client has: the one its last sync or full copy reached' }),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .default(DEFAULT_CHANGES_LIMIT)
      .transform((n) => Math.min(n, MAX_CHANGES_LIMIT))
      .openapi({
        description: `features and removed keys per page (default ${DEFAULT_CHANGES_LIMIT}; above ${MAX_CHANGES_LIMIT}, ${MAX_CHANGES_LIMIT})`,
      }),
    f: formatParam,
    cursor: z.string().max(2000).optional().openapi({ description: 'from a `next` link; opaque and signed' }),
  })
  .strict();
type ChangesQuery = z.infer<typeof ChangesQuery>;

/** What a changes cursor pins: collection, since, the version reached, the feed and byte, the count. */
const ChangesCursor = z.object({
  c: z.string(),
  s: z.string(),
  v: z.string(),
  i: z.number().int().nonnegative(),
  o: z.number().int().nonnegative(),
  m: z.number().int().nonnegative(),
});
type ChangesCursor = z.infer<typeof ChangesCursor>;

const gone = (detail: string) =>
  new HttpProblem(
    410,
    'Gone',
    `${detail}. Take a full copy from /items (its version is the collection's), then ask for changes since that version.`,
  );

const declaredKey = (deps: AppDeps, product: string, output: string) =>
  deps.catalog.products.get(product)?.product.outputs.find((o) => (o.name ?? o.table) === output)?.key ?? [];

/** A page of the changes from `since` to the version the first page found latest (or the pinned one). */
async function changesPage(
  { deps, published }: { deps: AppDeps; published: PublishedReader },
  c: Context<AppEnv>,
  id: string,
  q: ChangesQuery,
) {
  const door = c.get('door');
  const key = c.get('signingKey');
  let cursor: ChangesCursor | undefined;
  if (q.cursor) {
    const parsed = ChangesCursor.safeParse(verifyToken(key, 'changes', q.cursor));
    if (!parsed.success)
      throw badRequest('the cursor is not valid: it was changed, or not made by this server');
    cursor = parsed.data;
  }
  const { ref, manifest } = await resolveCollection(
    c.get('principal'),
    deps.catalog,
    published,
    id,
    cursor?.v,
  );
  const base = collectionId(ref.product, ref.output);
  if (cursor && (cursor.c !== base || cursor.s !== q.since))
    throw badRequest(`the cursor belongs to another collection or since than "${id}" since ${q.since}`);
  const source = published.changeFeeds(ref.product, ref.output);
  const chain = await feedChain(source, q.since, manifest.version);
  if ('notCovered' in chain) {
    const known = await published.manifest(ref.product, q.since).then(
      () => true,
      () => false,
    );
    throw gone(
      known
        ? `the change feed of "${id}" does not cover version ${q.since}: ${chain.notCovered}`
        : `"${ref.product}" has no version "${q.since}"`,
    );
  }
  const composition = await compose(source, chain.feeds);
  const page = await changePage(
    source,
    chain.feeds,
    composition,
    cursor ?? { i: 0, o: 0 },
    q.limit,
    MAX_PAGE_BYTES,
  );
  const matched = cursor?.m ?? composition.matched;
  const path = `/collections/${id}/changes`;
  const links = [
    {
      rel: 'self',
      href: link(door, path, { since: q.since, limit: q.limit, cursor: q.cursor }),
      type: GEOJSON,
    },
    { rel: 'collection', href: link(door, `/collections/${id}`), type: 'application/json' },
  ];
  if (page.next) {
    const next: ChangesCursor = { c: base, s: q.since, v: manifest.version, ...page.next, m: matched };
    const cursorText = signToken(key, 'changes', next);
    links.push({
      rel: 'next',
      href: link(door, path, { since: q.since, limit: q.limit, cursor: cursorText }),
      type: GEOJSON,
    });
  }
  return {
    type: 'FeatureCollection',
    since: q.since,
    version: manifest.version,
    // With nothing to compose (since is the current version) the catalog says the key, for a client's index.
    key: chain.feeds[0]?.key ?? declaredKey(deps, ref.product, ref.output),
    features: page.features,
    removed: page.removed,
    numberMatched: matched,
    numberReturned: page.features.length + page.removed.length,
    timeStamp: new Date().toISOString(),
    links,
  };
}

/**
 * What changed in a collection since a version: the change feeds published beside each version, composed
 * from `since` to the current version and paged by range reads from the egress bucket, as items are.
 */
export function changeRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: AppDeps,
  published: PublishedReader,
  guard: MiddlewareHandler<AppEnv>,
): void {
  const route = guardedBy(guard);
  app.openapi(
    route({
      method: 'get',
      path: '/collections/{collectionId}/changes',
      tags: ['features'],
      summary:
        "Every change since a version, each key's last state once: added and changed features in full, removed keys; `next` links carry a signed cursor pinned to the version first read. 410 when the feed does not reach back to `since` (take a full copy)",
      request: {
        params: z.object({
          collectionId: z
            .string()
            .max(200)
            .openapi({ param: { name: 'collectionId', in: 'path' }, example: 'county_places.us_places' }),
        }),
        query: ChangesQuery,
      },
      responses: {
        200: { description: 'a page of changes', content: { [GEOJSON]: { schema: S.ChangeCollection } } },
        ...S.problems(400, 401, 403, 404, 410, 429),
      },
    }),
    async (c) => {
      const page = await changesPage(
        { deps, published },
        c,
        c.req.valid('param').collectionId,
        c.req.valid('query'),
      );
      return c.body(JSON.stringify(page), 200, { 'content-type': GEOJSON }) as never;
    },
  );
}
