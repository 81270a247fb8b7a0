import type { Hash } from 'node:crypto';
import * as Hawk from 'hawk';
import type { Context, MiddlewareHandler } from 'hono';
import { burstOf, findApiKey, findHawkKey, type KnownPartner } from '../partners/credentials.ts';
import { Scopes } from '../partners/scopes.ts';
import type { AppDeps, AppEnv, Principal } from './context.ts';
import { type Door, isLoopbackHost } from './door.ts';
import { HttpProblem } from './problem.ts';

/** Hawk's permitted clock difference either way, in seconds. */
export const HAWK_SKEW_SECONDS = 60;
/** A nonce is remembered for as long as a request carrying it could still pass the timestamp check, and a margin. */
const NONCE_SECONDS = 2 * HAWK_SKEW_SECONDS + 60;

/** Basic is offered so clients that wait for a challenge (curl --anyauth, GDAL_HTTP_AUTH=ANY) send the key. */
const unauthorized = (detail: string, challenge = 'Hawk, Bearer, Basic realm="strata"') =>
  new HttpProblem(401, 'Unauthorized', detail, { 'WWW-Authenticate': challenge });

interface HawkResult {
  readonly who: KnownPartner;
  readonly credentials: Hawk.server.Credentials;
  readonly artifacts: Hawk.crypto.Artifacts;
}

/**
 * Verifies a Hawk Authorization header against each spelling of the request the client may have signed.
 * sha256 only, the timestamp within HAWK_SKEW_SECONDS, the nonce new (the store down means refused), and
 * the payload hash checked whenever there is a body or the header names a hash.
 */
async function verifyHawk(
  deps: AppDeps,
  c: Context<AppEnv>,
  door: Door,
  authorization: string,
): Promise<HawkResult> {
  const method = c.req.method;
  const body = ['GET', 'HEAD'].includes(method) ? '' : await c.req.text();
  const payload = body.length > 0 || /\bhash="/.test(authorization) ? body : undefined;
  const directory = await deps.partners.read();
  let who: KnownPartner | undefined;
  let storeFailure: unknown;
  const options: Hawk.server.AuthenticateOptions = {
    timestampSkewSec: HAWK_SKEW_SECONDS,
    payload,
    nonceFunc: async (_key, nonce) => {
      let fresh: boolean;
      try {
        fresh = await deps.nonces.remember(`${who?.id}:${nonce}`, NONCE_SECONDS);
      } catch (e) {
        storeFailure = e;
        throw e;
      }
      if (!fresh) throw new Error('nonce replayed');
    },
  };
  const credentialsFor = (id: string) => {
    const found = findHawkKey(directory, id);
    who = found;
    // Typed as required by @types/hawk; `null` is how the library is told the id is unknown.
    return (found
      ? { key: found.key.key, algorithm: 'sha256', user: found.id }
      : null) as unknown as Hawk.server.Credentials;
  };
  let lastError: unknown;
  for (const target of door.targets) {
    try {
      const out = await Hawk.server.authenticate(
        {
          method,
          url: `${door.prefix}${target}`,
          host: door.host,
          port: door.port,
          authorization,
          contentType: c.req.header('content-type') ?? '',
        } as never,
        credentialsFor,
        options,
      );
      return { who: who!, credentials: out.credentials, artifacts: out.artifacts };
    } catch (e) {
      lastError = e;
      // Another spelling of the query may be the one signed; every other failure is final.
      if ((e as Error).message !== 'Bad mac') break;
    }
  }
  if (storeFailure !== undefined) {
    deps.log?.('nonce store unavailable: Hawk request refused', { error: String(storeFailure) });
    throw new HttpProblem(
      503,
      'Service Unavailable',
      'replay protection is unavailable, so the request was refused; try again shortly',
      { 'Retry-After': '1' },
    );
  }
  const boom = lastError as { message?: string; output?: { headers?: Record<string, string> } };
  const reason = boom.message === 'nonce replayed' ? 'Invalid nonce' : boom.message || 'invalid Hawk header';
  const challenge = boom.output?.headers?.['WWW-Authenticate'] ?? 'Hawk';
  throw unauthorized(`Hawk authentication failed: ${reason}`, challenge);
}

/** Signs the response for the client to verify: Server-Authorization with the MAC and the body's hash. */
async function signResponse(c: Context<AppEnv>, hawk: HawkResult): Promise<void> {
  // A HEAD is answered by the GET route and its body dropped after this middleware: the hash is of the
  // body sent, which is none.
  const body = c.req.method === 'HEAD' ? new Uint8Array(0) : new Uint8Array(await c.res.arrayBuffer());
  // An empty body stays empty (a string body would gain a text/plain type the hash did not cover).
  const res = new Response(body.length === 0 ? null : body, c.res);
  const contentType = res.headers.get('content-type') ?? '';
  // Hashed as bytes, as sent: no decoding of a page to text and back.
  // (@types/hawk calls it a string; the library returns the running Hash.)
  const hash = Hawk.crypto.initializePayloadHash(hawk.credentials.algorithm, contentType) as unknown as Hash;
  hash.update(body);
  res.headers.set(
    'Server-Authorization',
    Hawk.server.header(hawk.credentials, hawk.artifacts, { hash: Hawk.crypto.finalizePayloadHash(hash) }),
  );
  c.res = res;
}

/**
 * The API key, from `Authorization: Bearer`, `X-API-Key`, or as the password of HTTP Basic with any user
 * name: QGIS 3.22 can send no header of its own choosing, but its Basic authentication config sends that.
 */
function presentedApiKey(c: Context<AppEnv>): string | undefined {
  const authorization = c.req.header('authorization');
  if (authorization && /^bearer\s/i.test(authorization))
    return authorization.replace(/^bearer\s+/i, '').trim();
  if (authorization && /^basic\s/i.test(authorization)) {
    const decoded = Buffer.from(authorization.replace(/^basic\s+/i, '').trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0 ? undefined : decoded.slice(colon + 1).trim() || undefined;
  }
  return c.req.header('x-api-key')?.trim();
}

/**
 * Authentication for the partner routes: Hawk, or an API key (`Authorization: Bearer` or `X-API-Key`) for
 * clients that cannot sign (QGIS, GDAL, ArcGIS). Then the partner's rate limit. A Hawk request's response
 * is signed on the way out.
 */
export function authenticate(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const door = c.get('door');
    const authorization = c.req.header('authorization');
    let who: KnownPartner;
    let hawk: HawkResult | undefined;
    let via: Principal['via'];
    if (authorization && /^hawk\s/i.test(authorization)) {
      hawk = await verifyHawk(deps, c, door, authorization);
      who = hawk.who;
      via = 'hawk';
    } else {
      const key = presentedApiKey(c);
      if (!key)
        throw unauthorized(
          'credentials are required: a Hawk Authorization header, or an API key (Bearer, X-API-Key, or the password of Basic)',
        );
      const found = findApiKey(await deps.partners.read(), key);
      if (!found)
        throw unauthorized(
          'the API key is not valid (revoked, mistyped, or never issued)',
          'Bearer, Basic realm="strata"',
        );
      who = found;
      via = 'api-key';
    }
    let allowed = true;
    try {
      allowed = await deps.rateLimiter.take(who.id, who.partner.requestsPerSecond, burstOf(who.partner));
    } catch (e) {
      // Availability before strictness: a limiter that cannot count lets the request through (and says so).
      deps.log?.('rate limiter unavailable', { partner: who.id, error: String(e) });
    }
    if (!allowed)
      throw new HttpProblem(
        429,
        'Too Many Requests',
        `over ${burstOf(who.partner)} requests at once and ${who.partner.requestsPerSecond} a second after that; slow down (or ask for bigger pages: limit=1000)`,
        { 'Retry-After': '1' },
      );
    c.set('principal', { partner: who.id, scopes: new Scopes(who.partner.scopes), via });
    await next();
    if (hawk) await signResponse(c, hawk);
  };
}

/**
 * Operators' routes: the `operator` scope, or no credentials at all on `strata serve`'s loopback, for a
 * request addressed to a loopback name (a DNS-rebinding page's requests carry its own name in Host).
 */
export function authenticateOperator(deps: AppDeps): MiddlewareHandler<AppEnv> {
  const partner = authenticate(deps);
  return async (c, next) => {
    if (deps.local?.operatorsOnLoopback && !c.req.header('authorization') && !c.req.header('x-api-key')) {
      const host = c.req.header('host') ?? new URL(c.req.url).host;
      if (!isLoopbackHost(host))
        throw new HttpProblem(
          403,
          'Forbidden',
          `the operator's pass without credentials holds only for requests addressed to 127.0.0.1 or localhost, not to "${host}"`,
        );
      // A page on another origin (a web map allowed by CORS, or any site) may send a simple GET to loopback
      // with a loopback Host; its Origin header says it is not this server's own page.
      const origin = c.req.header('origin');
      if (origin !== undefined && originHost(origin) !== host.toLowerCase())
        throw new HttpProblem(
          403,
          'Forbidden',
          `the operator's pass without credentials holds only for this server's own pages, not for one from ${origin}`,
        );
      c.set('principal', { partner: 'operator', scopes: new Scopes(['operator']), via: 'loopback' });
      return next();
    }
    return partner(c, async () => {
      if (!c.get('principal').scopes.operator)
        throw new HttpProblem(403, 'Forbidden', 'this route is for operators (the operator scope)');
      await next();
    });
  };
}

/** `host[:port]` of an Origin header, lower-cased; undefined for `null` or anything unparsable. */
function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}
