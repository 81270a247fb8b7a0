import type { Context } from 'hono';
import type { PartnerDirectoryDoc } from '../ports/partner-directory.ts';
import type { NonceStore } from '../ports/request-guards.ts';
import type { AppEnv, Principal } from '../web/context.ts';
import type { Door } from '../web/door.ts';
import * as sessions from '../web/session.ts';

/**
 * The console's sessions (runtime/web/session.ts says how they work): operators only, under /console, with a
 * cookie of its own, so a portal session is never a console one.
 */
export const CONSOLE: sessions.SessionRealm = {
  name: 'console',
  cookie: 'strata_console',
  mount: '/console',
  admits: (scopes) => scopes.operator,
};

export const SESSION_COOKIE = CONSOLE.cookie;
export const SESSION_SECONDS = sessions.SESSION_SECONDS;

/** The console's path as the client reaches it: `/console`, or `/v1/console` behind API Gateway's stage. */
export const consolePath = (door: Door) => sessions.realmPath(CONSOLE, door);

export const startSession = (
  c: Context<AppEnv>,
  signingKey: string,
  who: { partner: string; keyId: string },
  now = Date.now(),
) => sessions.startSession(c, CONSOLE, signingKey, who, now);

export const endSession = (c: Context<AppEnv>, nonces: NonceStore) => sessions.endSession(c, CONSOLE, nonces);

export const activeSession = (
  c: Context<AppEnv>,
  doc: PartnerDirectoryDoc,
  nonces: NonceStore,
  now = Date.now(),
) => sessions.activeSession(c, CONSOLE, doc, nonces, now);

export const sessionPrincipal = (c: Context<AppEnv>, doc: PartnerDirectoryDoc, now = Date.now()) =>
  sessions.sessionPrincipal(c, CONSOLE, doc, now);

/** The hidden value every console form carries. */
export const formToken = (signingKey: string, principal: Principal | undefined, now = Date.now()) =>
  sessions.formToken(CONSOLE, signingKey, principal, now);

export const checkForm = (c: Context<AppEnv>, token: string | undefined, now = Date.now()) =>
  sessions.checkForm(c, CONSOLE, token, now);

/** Where to go once signed in: a console path as asked, or the overview. */
export const safeNext = (door: Door, next: string | undefined) => sessions.safeNext(CONSOLE, door, next);
