import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { Scopes } from '../partners/scopes.ts';
import type { PartnerDirectoryDoc } from '../ports/partner-directory.ts';
import type { NonceStore } from '../ports/request-guards.ts';
import type { AppEnv, Principal } from '../web/context.ts';
import { type Door, origin } from '../web/door.ts';
import { HttpProblem } from '../web/problem.ts';
import { signToken, verifyToken } from '../web/tokens.ts';

/**
 * How a browser stays signed in to the console on AWS. Browsers cannot sign Hawk requests nor add an API key
 * to a link, so an operator posts an API key once (`POST /console/login`) and the app answers with a session
 * cookie: a token signed with the partner directory's signing key that names the partner and the key's id and
 * expires after SESSION_SECONDS. It holds no secret that works anywhere else, and is checked against the
 * directory on every request, so revoking the key (or the operator scope) ends the session at once. The cookie
 * is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and Secure over https,
 * and lives under the console's path only. Forms carry a second token (FORM_SECONDS), bound to the session.
 * Signing out records the session's id in the nonce store (DynamoDB on AWS, shared by every instance) for
 * the rest of its life, so a copy of the cookie stops working too.
 */

export const SESSION_COOKIE = 'strata_console';
export const SESSION_SECONDS = 8 * 3600;
const FORM_SECONDS = SESSION_SECONDS;

const SessionToken = z.object({ p: z.string(), k: z.string(), sid: z.string(), exp: z.number().int() });
const FormToken = z.object({ s: z.string(), exp: z.number().int() });

const nowSeconds = (now: number) => Math.floor(now / 1000);

/** The console's path as the client reaches it: `/console`, or `/v1/console` behind API Gateway's stage. */
export const consolePath = (door: Door) => `${door.prefix}/console`;

export function startSession(
  c: Context<AppEnv>,
  signingKey: string,
  who: { partner: string; keyId: string },
  now = Date.now(),
): void {
  const token = signToken(signingKey, 'console-session', {
    p: who.partner,
    k: who.keyId,
    sid: randomBytes(12).toString('base64url'),
    exp: nowSeconds(now) + SESSION_SECONDS,
  } satisfies z.infer<typeof SessionToken>);
  const door = c.get('door');
  setCookie(c, SESSION_COOKIE, token, {
    path: consolePath(door),
    httpOnly: true,
    secure: door.proto === 'https',
    sameSite: 'Strict',
    maxAge: SESSION_SECONDS,
  });
}

const signedOutKey = (sid: string) => `console-signed-out:${sid}`;

/** Ends the session on the server (every copy of its cookie), then in the browser. */
export async function endSession(c: Context<AppEnv>, nonces: NonceStore): Promise<void> {
  const p = c.get('principal') as Principal | undefined;
  // The browser's copy goes first: a store that cannot record the sign-out still signs this browser out.
  const door = c.get('door');
  deleteCookie(c, SESSION_COOKIE, { path: consolePath(door), secure: door.proto === 'https' });
  if (p?.via === 'session' && p.session) await nonces.remember(signedOutKey(p.session), SESSION_SECONDS);
}

/**
 * The session's operator (see sessionPrincipal), unless it was signed out. A store that cannot answer is a
 * 503: a signed-out cookie must not pass for want of a check.
 */
export async function activeSession(
  c: Context<AppEnv>,
  doc: PartnerDirectoryDoc,
  nonces: NonceStore,
  now = Date.now(),
): Promise<Principal | undefined> {
  const p = sessionPrincipal(c, doc, now);
  if (!p?.session) return p;
  let ended: boolean;
  try {
    ended = await nonces.remembers(signedOutKey(p.session));
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
 * The operator a session cookie names, if the cookie is genuine, unexpired, and its key still exists and
 * still belongs to a partner with the operator scope.
 */
export function sessionPrincipal(
  c: Context<AppEnv>,
  doc: PartnerDirectoryDoc,
  now = Date.now(),
): Principal | undefined {
  const cookie = getCookie(c, SESSION_COOKIE);
  if (!cookie) return undefined;
  const parsed = SessionToken.safeParse(verifyToken(doc.signingKey, 'console-session', cookie));
  if (!parsed.success || parsed.data.exp < nowSeconds(now)) return undefined;
  const { p, k, sid } = parsed.data;
  const partner = Object.hasOwn(doc.partners, p) ? doc.partners[p] : undefined;
  if (!partner?.apiKeys.some((key) => key.id === k)) return undefined;
  const scopes = new Scopes(partner.scopes);
  if (!scopes.operator) return undefined;
  return { partner: p, scopes, via: 'session', session: sid };
}

/** What a form token is bound to: the session, the loopback, or the partner whose credentials came with it. */
function subjectOf(p: Principal | undefined): string {
  if (!p) return 'anonymous';
  if (p.via === 'session') return `session:${p.session}`;
  if (p.via === 'loopback') return 'loopback';
  return `partner:${p.partner}`;
}

/** The hidden value every console form carries. */
export function formToken(signingKey: string, principal: Principal | undefined, now = Date.now()): string {
  return signToken(signingKey, 'console-form', {
    s: subjectOf(principal),
    exp: nowSeconds(now) + FORM_SECONDS,
  } satisfies z.infer<typeof FormToken>);
}

const refused = (detail: string) => new HttpProblem(403, 'Forbidden', detail);

/**
 * Against cross-site request forgery, each POST must come from the console's own origin (the browser's
 * Origin header, or Sec-Fetch-Site where a browser sends no Origin) and carry a form token made for this
 * session. A request with neither header is refused: every browser sends one of them.
 */
export function checkForm(c: Context<AppEnv>, token: string | undefined, now = Date.now()): void {
  const sent = c.req.header('origin');
  const site = c.req.header('sec-fetch-site');
  const ours = origin(c.get('door'));
  if (sent !== undefined ? sent !== ours : site !== 'same-origin')
    throw refused(
      `this form must be sent from the console's own pages (${ours}), not from ${sent ?? site ?? 'an unknown origin'}`,
    );
  const parsed = FormToken.safeParse(token ? verifyToken(c.get('signingKey'), 'console-form', token) : null);
  const principal = c.get('principal') as Principal | undefined;
  if (!parsed.success || parsed.data.s !== subjectOf(principal) || parsed.data.exp < nowSeconds(now))
    throw refused('the form has expired or was not made for you: load the page again and resend it');
}
