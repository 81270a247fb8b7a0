import { z } from '@hono/zod-openapi';
import type { Area, Bbox } from '../../features/flatgeobuf.ts';
import { badRequest } from '../../web/problem.ts';
import { verifyToken } from '../../web/tokens.ts';

/** The query of OGC API – Features requests: bbox, datetime, the format, and the signed cursor of a page. */

/** What a cursor pins: the collection, the version it was first read at, where to go on, and the filter. */
export const Cursor = z.object({
  c: z.string(),
  v: z.string(),
  p: z.number().int().nonnegative(),
  b: z.tuple([z.number(), z.number(), z.number(), z.number()]).nullable(),
  m: z.number().int().nonnegative(),
});
export type Cursor = z.infer<typeof Cursor>;

export function parseBbox(text: string): Bbox {
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
export const formatParam = z
  .enum(['json', 'geojson', 'application/json', 'application/geo+json'])
  .optional()
  .openapi({ description: 'the response format; JSON (GeoJSON for features) is the only one' });
/** OGC resources refuse parameters they do not define (Core, /req/core/query-param-unknown), all alike. */
export const ogcQuery = z.object({ f: formatParam }).strict();

/** The cursor of a `next` link, as this server signed it; 400 for anything else. */
export function readCursor(signingKey: string, token: string): Cursor {
  const parsed = Cursor.safeParse(verifyToken(signingKey, 'cursor', token));
  if (!parsed.success)
    throw badRequest('the cursor is not valid: it was changed, or not made by this server');
  return parsed.data;
}

/** The query a page was asked with, as its `self` link repeats it. */
export function itemsQuery(q: { limit: number; bbox?: string; datetime?: string; cursor?: string }) {
  return { limit: q.limit, bbox: q.bbox, datetime: q.datetime, cursor: q.cursor };
}
