import type { MiddlewareHandler } from 'hono';
import type { AppDeps, AppEnv } from '../web/context.ts';
import { HttpProblem } from '../web/problem.ts';
import { activeSession, limitSession } from '../web/session.ts';
import { PORTAL, portalTo } from './realm.ts';

/**
 * Who may see the portal: a person signed in with a portal session, and no one else. The partner API's own
 * credentials are for the API (scripts), not for pages, and there is no loopback pass: partner staff are not
 * the operator at the machine. A browser without a session is sent to sign in.
 */
export function portalGuard(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const doc = await deps.partners.read();
    c.set('signingKey', doc.signingKey);
    const session = await activeSession(c, PORTAL, doc, deps.nonces);
    if (session) {
      await limitSession(deps.rateLimiter, doc, session);
      c.set('principal', session);
      return next();
    }
    if (c.req.method === 'GET') {
      const door = c.get('door');
      const here = new URL(c.req.url);
      const back = `${door.prefix}${here.pathname}${here.search}`;
      return c.redirect(`${portalTo(door, '/login')}?next=${encodeURIComponent(back)}`, 303);
    }
    throw new HttpProblem(401, 'Unauthorized', 'sign in to the portal first', {
      'WWW-Authenticate': 'Bearer',
    });
  };
}
