import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import * as client from 'openid-client';
import { z } from 'zod';
import type { PartnerDirectoryDoc } from '../ports/partner-directory.ts';
import type { AppEnv, PortalSignIn } from '../web/context.ts';
import { link } from '../web/door.ts';
import { HttpProblem } from '../web/problem.ts';
import { signToken, verifyToken } from '../web/tokens.ts';
import { PORTAL_OIDC_ENV } from './env.ts';
import { PORTAL, portalTo } from './realm.ts';

/**
 * Signing in to the portal with the organisation's OpenID Connect provider, by openid-client: the
 * authorization code flow with PKCE (S256) and a state. Between leaving for the provider and coming back, the
 * browser holds the verifier, the state and where to go next in a cookie signed with the partner directory's
 * key, for FLIGHT_SECONDS, under the callback's path only. It is SameSite=Lax, not Strict: the provider sends
 * the browser back with a top-level GET from its own site, which a Strict cookie would not come with. The
 * partner is the value of the configured claim of the ID token, and must be a partner the directory knows.
 */

const FLIGHT_COOKIE = 'strata_portal_oidc';
const FLIGHT_SECONDS = 600;
const Flight = z.object({ v: z.string(), s: z.string(), n: z.string(), exp: z.number().int() });

const configs = new Map<string, Promise<client.Configuration>>();

/** The provider's configuration, discovered once per process (a failure is tried again next time). */
function configuration(settings: PortalSignIn): Promise<client.Configuration> {
  const key = `${settings.issuer}|${settings.clientId}`;
  let found = configs.get(key);
  if (!found) {
    const issuer = new URL(settings.issuer);
    // Plain http only for an issuer on this machine (a test issuer, a local development one).
    const local =
      issuer.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
    found = client
      .discovery(
        issuer,
        settings.clientId,
        settings.clientSecret,
        undefined,
        local ? { execute: [client.allowInsecureRequests] } : undefined,
      )
      .catch((e) => {
        configs.delete(key);
        throw new HttpProblem(
          503,
          'Service Unavailable',
          `the organisation's login (${settings.issuer}) cannot be reached just now: ${(e as Error).message}`,
          { 'Retry-After': '5' },
        );
      });
    configs.set(key, found);
  }
  return found;
}

/**
 * Where the sign-in form sends the browser: the provider's authorization endpoint, whose origin may differ
 * from the issuer's (a Cognito pool's hosted domain). Browsers hold a form's redirect to the page's
 * `form-action`, so the sign-in page's policy must name it; undefined while the provider cannot be reached.
 */
export async function authorizationOrigin(settings: PortalSignIn): Promise<string | undefined> {
  try {
    const endpoint = (await configuration(settings)).serverMetadata().authorization_endpoint;
    return endpoint ? new URL(endpoint).origin : undefined;
  } catch {
    return undefined;
  }
}

const callbackPath = '/login/oidc/callback';
const redirectUri = (c: Context<AppEnv>) => link(c.get('door'), `${PORTAL.mount}${callbackPath}`);

/** Where to send the browser to sign in; `next` is a portal path already checked by safeNext. */
export async function beginSignIn(
  c: Context<AppEnv>,
  settings: PortalSignIn,
  signingKey: string,
  next: string,
  now = Date.now(),
): Promise<string> {
  const config = await configuration(settings);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const flight = { v: verifier, s: state, n: next, exp: Math.floor(now / 1000) + FLIGHT_SECONDS };
  const door = c.get('door');
  setCookie(c, FLIGHT_COOKIE, signToken(signingKey, 'portal-oidc', flight), {
    path: portalTo(door, callbackPath),
    httpOnly: true,
    secure: door.proto === 'https',
    sameSite: 'Lax',
    maxAge: FLIGHT_SECONDS,
  });
  return client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri(c),
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  }).href;
}

const refused = (detail: string) => new HttpProblem(401, 'Unauthorized', detail);

/**
 * The provider's answer, checked (state, PKCE, the ID token's signature, issuer, audience and times, by
 * openid-client): the partner and person it names, and where the browser was going.
 */
export async function finishSignIn(
  c: Context<AppEnv>,
  settings: PortalSignIn,
  doc: PartnerDirectoryDoc,
  now = Date.now(),
): Promise<{ partner: string; user: string; next: string }> {
  const door = c.get('door');
  const raw = getCookie(c, FLIGHT_COOKIE);
  deleteCookie(c, FLIGHT_COOKIE, { path: portalTo(door, callbackPath), secure: door.proto === 'https' });
  const flight = Flight.safeParse(raw ? verifyToken(doc.signingKey, 'portal-oidc', raw) : null);
  if (!flight.success || flight.data.exp < Math.floor(now / 1000))
    throw refused('this sign-in was not started here, or took longer than ten minutes: sign in again');
  const here = new URL(redirectUri(c));
  here.search = new URL(c.req.url).search;
  let claims: Record<string, unknown> | undefined;
  try {
    const tokens = await client.authorizationCodeGrant(await configuration(settings), here, {
      pkceCodeVerifier: flight.data.v,
      expectedState: flight.data.s,
      idTokenExpected: true,
    });
    claims = tokens.claims() as Record<string, unknown> | undefined;
  } catch (e) {
    if (e instanceof HttpProblem) throw e;
    throw refused(`the organisation's login did not sign you in: ${(e as Error).message}`);
  }
  const partner = claims?.[settings.partnerClaim];
  if (typeof partner !== 'string' || !Object.hasOwn(doc.partners, partner))
    throw new HttpProblem(
      403,
      'Forbidden',
      typeof partner === 'string'
        ? `your login names partner "${partner}", which this data store does not know: ask your data team`
        : `your login does not say which partner you work for (its "${settings.partnerClaim}" claim): ask your data team`,
    );
  const user = String(claims?.email ?? claims?.sub ?? 'unknown');
  return { partner, user, next: flight.data.n };
}

/**
 * The portal's OpenID Connect sign-in from environment variables; none when the issuer is not set. Read at
 * start-up, so a half-made configuration fails then, naming what is missing, not at someone's first sign-in.
 */
export function portalSignInFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): PortalSignIn | undefined {
  const issuer = env[PORTAL_OIDC_ENV.issuer]?.trim();
  if (!issuer) return undefined;
  const clientId = env[PORTAL_OIDC_ENV.clientId]?.trim();
  const partnerClaim = env[PORTAL_OIDC_ENV.partnerClaim]?.trim();
  const missing = [
    ...(clientId ? [] : [PORTAL_OIDC_ENV.clientId]),
    ...(partnerClaim ? [] : [PORTAL_OIDC_ENV.partnerClaim]),
  ];
  if (missing.length > 0)
    throw new Error(
      `${PORTAL_OIDC_ENV.issuer} is set, so the portal signs in with it: set ${missing.join(' and ')} too`,
    );
  try {
    new URL(issuer);
  } catch {
    throw new Error(`${PORTAL_OIDC_ENV.issuer} must be the issuer's URL (https://...), got: ${issuer}`);
  }
  const secret = env[PORTAL_OIDC_ENV.clientSecret]?.trim();
  const label = env[PORTAL_OIDC_ENV.label]?.trim();
  return {
    issuer,
    clientId: clientId!,
    partnerClaim: partnerClaim!,
    ...(secret ? { clientSecret: secret } : {}),
    ...(label ? { label } : {}),
  };
}
