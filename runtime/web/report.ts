import { Readable } from 'node:stream';
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppDeps, AppEnv } from './context.ts';
import { signedDownload } from './published.ts';

/**
 * A QA report as the console and the portal serve it: with the policy its own page declares, in a sandbox of its own
 * origin, so its scripts can draw the map but never act as the page that opened it (its data is the data's, not ours).
 */
const REPORT_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
  'cache-control': 'private, max-age=3600',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The answer for a report that may be too big to send: a 302 to it is described so. */
export const reportResponses = {
  200: {
    description: 'the QA report',
    content: { 'text/html': { schema: z.string().openapi({ description: 'an HTML page' }) } },
  },
  302: { description: 'a report bigger than a response here may carry: to a short-lived URL of its file' },
};

/**
 * A QA report as a response: the page itself, or, when it is bigger than a response here may carry (Lambda's
 * 6 MB), a short-lived URL to its file (a presigned S3 URL: another origin, where the report keeps the policy
 * its own page declares).
 */
export async function reportResponse(
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
          ? (await signedDownload(c, deps, key)).url
          : await deps.store.presign(bucket, key, { method: 'GET', expiresSeconds: 300 });
      return c.redirect(url, 302);
    }
  }
  const stream = await deps.store.get(bucket, key);
  return c.body(Readable.toWeb(stream) as ReadableStream, 200, REPORT_HEADERS);
}
