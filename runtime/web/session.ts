import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { burstOf } from '../partners/credentials.ts';
import { Scopes } from '../partners/scopes.ts';
import type { PartnerDirectoryDoc } from '../ports/partner-directory.ts';
import type { NonceStore, RateLimiter } from '../ports/request-guards.ts';
import type { AppEnv, Principal } from './context.ts';
import { type Door, origin } from './door.ts';
import { badRequest, HttpProblem } from './problem.ts';
import { signToken, verifyToken } from './tokens.ts';

/**
 * How a browser stays signed in to the console or the partner portal. Browsers cannot sign Hawk requests
 * nor add an API key to a link, so a person signs in once (an API key posted, or for the portal their
 * organisation's OpenID Connect login) and the app answers with a session cookie: a token signed with the
 * partner directory's signing key that names the partner and how they signed in, and expires after
 * SESSION_SECONDS. It holds no secret that works anywhere else, and is checked against the directory on every
 * request, so revoking the key (or the scope the realm asks for) ends the session at once. The cookie is
 * HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and Secure over https, and
 * lives under its realm's path only. Forms carry a second token (FORM_SECONDS), bound to the session.
 * Signing out records the session's id in the nonce store (DynamoDB on AWS, shared by every instance) for the
 * rest of its life, so a copy of the cookie stops working too.
 */

/** A part of the application people sign in to: its path, its cookie, and who it admits. */
export interface SessionRealm {
  /** Names its tokens' purposes (`console-session`, `portal-form`), so one realm's token is no other's. */
  readonly name: 'console' | 'portal';
  readonly cookie: string;
  /** Where it is mounted in the application: `/console`. */
  readonly mount: string;
  /** Whether a partner with these scopes may use it (the console: operators only). */
  readonly admits: (scopes: Scopes) => boolean;
}

export const SESSION_SECONDS = 8 * 3600;
const FORM_SECONDS = SESSION_SECONDS;

/**
 * `k`: the API key signed in with (the session ends with it); `u`: the person an identity provider named,
 * for a session made by OpenID Connect (it ends when the partner goes).
 */
const SessionToken = z.object({
  p: z.string(),
  k: z.string().optional(),
  u: z.string().optional(),
  sid: z.string(),
  exp: z.number().int(),
});
const FormToken = z.object({ s: z.string(), exp: z.number().int() });

const nowSeconds = (now: number) => Math.floor(now / 1000);

/** The realm's path as the client reaches it: `/console`, or `/v1/console` behind API Gateway's stage. */
export const realmPath = (realm: SessionRealm, door: Door) => `${door.prefix}${realm.mount}`;

export function startSession(
  c: Context<AppEnv>,
  realm: SessionRealm,
  signingKey: string,
  who: { partner: string; keyId?: string; user?: string },
  now = Date.now(),
): void {
  const token = signToken(signingKey, `${realm.name}-session`, {
    p: who.partner,
    ...(who.keyId !== undefined ? { k: who.keyId } : {}),
    ...(who.user !== undefined ? { u: who.user } : {}),
    sid: randomBytes(12).toString('base64url'),
    exp: nowSeconds(now) + SESSION_SECONDS,
  } satisfies z.infer<typeof SessionToken>);
  const door = c.get('door');
  setCookie(c, realm.cookie, token, {
    path: realmPath(realm, door),
    httpOnly: true,
    secure: door.proto === 'https',
    sameSite: 'Strict',
    maxAge: SESSION_SECONDS,
  });
}

const signedOutKey = (realm: SessionRealm, sid: string) => `${realm.name}-signed-out:${sid}`;

/** Ends the session on the server (every copy of its cookie), then in the browser. */
export async function endSession(c: Context<AppEnv>, realm: SessionRealm, nonces: NonceStore): Promise<void> {
  const p = c.get('principal') as Principal | undefined;
  // The browser's copy goes first: a store that cannot record the sign-out still signs this browser out.
  const door = c.get('door');
  deleteCookie(c, realm.cookie, { path: realmPath(realm, door), secure: door.proto === 'https' });
  if (p?.via === 'session' && p.session)
    await nonces.remember(signedOutKey(realm, p.session), SESSION_SECONDS);
}

/**
 * The session's partner (see sessionPrincipal), unless it was signed out. A store that cannot answer is a
 * 503: a signed-out cookie must not pass for want of a check.
 */
export async function activeSession(
  c: Context<AppEnv>,
  realm: SessionRealm,
  doc: PartnerDirectoryDoc,
  nonces: NonceStore,
  now = Date.now(),
): Promise<Principal | undefined> {
  const p = sessionPrincipal(c, realm, doc, now);
  if (!p?.session) return p;
  let ended: boolean;
  try {
    ended = await nonces.remembers(signedOutKey(realm, p.session));
  } catch {
    throw new HttpProblem(
      503,
      'Service Unavailable',
      'sessions cannot be checked just now; try again shortly',
      {
        'Retry-After': '1',
      },
    );
  }
  return ended ? undefined : p;
}

/**
 * The partner a session cookie names, if the cookie is genuine and unexpired, the partner still exists with
 * the key it signed in with (for a key's session), and the realm still admits its scopes.
 */
export function sessionPrincipal(
  c: Context<AppEnv>,
  realm: SessionRealm,
  doc: PartnerDirectoryDoc,
  now = Date.now(),
): Principal | undefined {
  const cookie = getCookie(c, realm.cookie);
  if (!cookie) return undefined;
  const parsed = SessionToken.safeParse(verifyToken(doc.signingKey, `${realm.name}-session`, cookie));
  if (!parsed.success || parsed.data.exp < nowSeconds(now)) return undefined;
  const { p, k, u, sid } = parsed.data;
  const partner = Object.hasOwn(doc.partners, p) ? doc.partners[p] : undefined;
  if (!partner) return undefined;
  if (k === undefined ? u === undefined : !partner.apiKeys.some((key) => key.id === k)) return undefined;
  const scopes = new Scopes(partner.scopes);
  if (!realm.admits(scopes)) return undefined;
  return { partner: p, scopes, via: 'session', session: sid, ...(u !== undefined ? { user: u } : {}) };
}

/** A session's partner's own rate limit, as the partner API applies it to its credentials. */
export async function limitSession(
  limiter: RateLimiter,
  doc: PartnerDirectoryDoc,
  session: Principal,
): Promise<void> {
  const known = doc.partners[session.partner]!;
  if (!(await limiter.take(session.partner, known.requestsPerSecond, burstOf(known)).catch(() => true)))
    throw new HttpProblem(429, 'Too Many Requests', 'too many requests a second; slow down', {
      'Retry-After': '1',
    });
}

/** What a form token is bound to: the session, the loopback, or the partner whose credentials came with it. */
function subjectOf(p: Principal | undefined): string {
  if (!p) return 'anonymous';
  if (p.via === 'session') return `session:${p.session}`;
  if (p.via === 'loopback') return 'loopback';
  return `partner:${p.partner}`;
}

/** The hidden value every form of the realm carries. */
export function formToken(
  realm: SessionRealm,
  signingKey: string,
  principal: Principal | undefined,
  now = Date.now(),
): string {
  return signToken(signingKey, `${realm.name}-form`, {
    s: subjectOf(principal),
    exp: nowSeconds(now) + FORM_SECONDS,
  } satisfies z.infer<typeof FormToken>);
}

const refused = (detail: string) => new HttpProblem(403, 'Forbidden', detail);

/**
 * Against cross-site request forgery, each POST must come from the application's own origin (the browser's
 * Origin header, or Sec-Fetch-Site where a browser sends no Origin) and carry a form token made for this
 * session. A request with neither header is refused: every browser sends one of them.
 */
export function checkForm(
  c: Context<AppEnv>,
  realm: SessionRealm,
  token: string | undefined,
  now = Date.now(),
): void {
  const sent = c.req.header('origin');
  const site = c.req.header('sec-fetch-site');
  const ours = origin(c.get('door'));
  if (sent !== undefined ? sent !== ours : site !== 'same-origin')
    throw refused(
      `this form must be sent from the ${realm.name}'s own pages (${ours}), not from ${sent ?? site ?? 'an unknown origin'}`,
    );
  const parsed = FormToken.safeParse(
    token ? verifyToken(c.get('signingKey'), `${realm.name}-form`, token) : null,
  );
  const principal = c.get('principal') as Principal | undefined;
  if (!parsed.success || parsed.data.s !== subjectOf(principal) || parsed.data.exp < nowSeconds(now))
    throw refused('the form has expired or was not made for you: load the page again and resend it');
}

/**
 * Where to go once signed in: a path of the realm as asked, or the realm's first page. Anything else (another
 * site, `//host`, a backslash some browsers read as a slash) is the first page: no open redirect.
 */
export function safeNext(realm: SessionRealm, door: Door, next: string | undefined): string {
  // A control character in `next` is no path; in a Location header it would split the answer.
  if (next !== undefined && /[\u0000-\u001f\u007f]/.test(next))
    throw badRequest(`next must be a path of the ${realm.name}, without control characters (CR, LF, ...)`);
  const root = realmPath(realm, door);
  return next &&
    /^\/[^/\\]/.test(next) &&
    (next === root || next.startsWith(`${root}/`) || next.startsWith(`${root}?`))
    ? next
    : root;
}
