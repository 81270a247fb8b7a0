import type { MiddlewareHandler } from 'hono';
import { ENV } from '../aws/names.ts';
import type { AppEnv } from '../web/context.ts';
import { HttpProblem } from '../web/problem.ts';

/** The variable that names a deployment's allowed origins, comma-separated (`strata serve` and the Lambda). */
export const CORS_ORIGINS_ENV = ENV.corsOrigins;

const ORIGIN = /^https?:\/\/[^/?#\s]+$/i;

/**
 * Allowed origins as configured: `scheme://host[:port]` each, or `*` for any. Throws naming the bad one,
 * so a mistyped origin fails at start-up rather than silently allowing nothing.
 */
export function parseCorsOrigins(values: readonly string[] | string | undefined, source: string): string[] {
  const list = (typeof values === 'string' ? values.split(',') : (values ?? []))
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
  for (const v of list)
    if (v !== '*' && !ORIGIN.test(v))
      throw new Error(
        `${source}: "${v}" is not an origin: write scheme://host[:port] (no path, no trailing slash), or * for any`,
      );
  return list.map((v) => (v === '*' ? v : v.toLowerCase()));
}

/** Only reads cross origins: uploads, builds and the console stay same-origin (or server to server). */
const READ_METHODS = ['GET', 'HEAD'];
/** What a web map sends: a key, or Hawk's header, and nothing else. */
const ALLOWED_HEADERS = 'Authorization, X-API-Key, Accept';
/** What a browser script may read of an answer besides the simple headers. */
const EXPOSED_HEADERS = 'Server-Authorization, Retry-After, WWW-Authenticate, Content-Length';
const PREFLIGHT_SECONDS = 600;

/** Paths a browser on another origin may read: the partner API's, not the console's nor strata serve's own. */
const readable = (path: string) => path !== '/console' && !/^\/(console|webhooks|_local)\//.test(path);

/**
 * CORS for a web map on another origin reading the partner API with a key: a preflight (OPTIONS) is
 * answered for the read routes, and their answers (errors too, so the page can show them) carry
 * Access-Control-Allow-Origin for an allowed origin. No origin is allowed unless configured; credentials
 * are headers the page sets, never cookies, so Allow-Credentials is never sent.
 */
export function cors(origins: readonly string[]): MiddlewareHandler<AppEnv> {
  const any = origins.includes('*');
  const allowed = (origin: string) => any || origins.includes(origin.toLowerCase());
  return async (c, next) => {
    const origin = c.req.header('origin');
    const path = c.req.path;
    if (!origin || !readable(path)) return next();
    const requested = c.req.header('access-control-request-method');
    if (c.req.method === 'OPTIONS' && requested) {
      if (origins.length === 0)
        throw new HttpProblem(
          403,
          'Forbidden',
          `no origin may read this API from a browser: the deployment allows none (${CORS_ORIGINS_ENV}, api.corsOrigins)`,
        );
      if (!allowed(origin))
        throw new HttpProblem(
          403,
          'Forbidden',
          `origin ${origin} is not among those allowed to read this API`,
        );
      if (!READ_METHODS.includes(requested.toUpperCase()))
        throw new HttpProblem(
          403,
          'Forbidden',
          `a browser on another origin may only read (GET, HEAD), not ${requested.toUpperCase()}`,
        );
      return c.body(null, 204, {
        'Access-Control-Allow-Origin': any ? '*' : origin,
        'Access-Control-Allow-Methods': READ_METHODS.join(', '),
        'Access-Control-Allow-Headers': ALLOWED_HEADERS,
        'Access-Control-Max-Age': String(PREFLIGHT_SECONDS),
        Vary: 'Origin',
      });
    }
    await next();
    if (!READ_METHODS.includes(c.req.method) || !allowed(origin)) return;
    c.header('Access-Control-Allow-Origin', any ? '*' : origin);
    c.header('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    c.header('Vary', 'Origin', { append: true });
  };
}
