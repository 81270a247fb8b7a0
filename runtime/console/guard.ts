import type { MiddlewareHandler } from 'hono';
import { Scopes } from '../partners/scopes.ts';
import { authenticate } from '../web/auth.ts';
import type { AppDeps, AppEnv } from '../web/context.ts';
import { isLoopbackHost } from '../web/door.ts';
import { HttpProblem } from '../web/problem.ts';
import { limitSession } from '../web/session.ts';
import { activeSession, consolePath } from './session.ts';

const forOperators = () =>
  new HttpProblem(403, 'Forbidden', 'the console is for operators: your key has no operator scope');

/**
 * Who may see the console: on `strata serve`, whoever reaches it at a loopback address (as the operators'
 * routes allow); anywhere, an operator signed in with a session, or a request that carries an operator's
 * Hawk or API key credentials as the partner API takes them. A browser with none of these is sent to sign in.
 */
export function consoleGuard(deps: AppDeps): MiddlewareHandler<AppEnv> {
  const partner = authenticate(deps);
  return async (c, next) => {
    const doc = await deps.partners.read();
    c.set('signingKey', doc.signingKey);
    const credentials =
      c.req.header('authorization') !== undefined || c.req.header('x-api-key') !== undefined;
    if (credentials)
      return partner(c, async () => {
        if (!c.get('principal').scopes.operator) throw forOperators();
        await next();
      });
    const host = c.req.header('host') ?? new URL(c.req.url).host;
    if (deps.local?.operatorsOnLoopback && isLoopbackHost(host)) {
      c.set('principal', { partner: 'operator', scopes: new Scopes(['operator']), via: 'loopback' });
      return next();
    }
    const session = await activeSession(c, doc, deps.nonces);
    if (session) {
      await limitSession(deps.rateLimiter, doc, session);
      c.set('principal', session);
      return next();
    }
    if (c.req.method === 'GET') {
      const door = c.get('door');
      const here = new URL(c.req.url);
      const back = `${door.prefix}${here.pathname}${here.search}`;
      return c.redirect(`${consolePath(door)}/login?next=${encodeURIComponent(back)}`, 303);
    }
    throw new HttpProblem(401, 'Unauthorized', 'sign in to the console first', {
      'WWW-Authenticate': 'Bearer',
    });
  };
}
