import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { findApiKey } from '../../partners/credentials.ts';
import { Scopes } from '../../partners/scopes.ts';
import type { AppDeps, AppEnv } from '../../web/context.ts';
import { isLoopbackHost } from '../../web/door.ts';
import { form, htmlPage, htmlProblems, seeOther, view } from '../../web/pages.ts';
import { HttpProblem } from '../../web/problem.ts';
import { withSigningKey } from '../../web/route.ts';
import { to } from '../layout.ts';
import { loginPage } from '../pages/overview.ts';
import { type ConsoleRoutes, pageRoute, respond } from '../respond.ts';
import { activeSession, checkForm, endSession, safeNext, startSession } from '../session.ts';

const signedIn = async (c: Context<AppEnv>, deps: AppDeps) =>
  (deps.local?.operatorsOnLoopback && isLoopbackHost(c.req.header('host') ?? new URL(c.req.url).host)) ||
  (await activeSession(c, await deps.partners.read(), deps.nonces)) !== undefined;

const signInForm = (c: Context<AppEnv>, next: string, status = 200, problem?: string) =>
  respond(c, { title: 'Sign in', body: loginPage(view(c), next, problem), signedOut: true }, status);

/** Signing in and out: open to all (there is nobody to guard yet), with the signing key at hand. */
export function signInPages(routes: ConsoleRoutes): void {
  const { app, deps, route } = routes;
  const open = pageRoute(withSigningKey(deps), []);
  app.openapi(
    open({
      method: 'get',
      path: '/login',
      summary: 'Console: the sign-in page (an operator posts an API key once)',
      request: { query: z.object({ next: z.string().max(2000).optional() }) },
      responses: { 200: htmlPage('the sign-in form'), 303: { description: 'signed in already' } },
    }),
    async (c) => {
      const next = safeNext(c.get('door'), c.req.valid('query').next);
      if (await signedIn(c, deps)) return c.redirect(next, 303) as never;
      return (await signInForm(c, next)) as never;
    },
  );
  signInForms(routes, open);

  app.openapi(
    route({
      method: 'post',
      path: '/logout',
      summary: 'Console: sign out (ends the session on the server: a copy of its cookie stops working too)',
      request: { ...form({}) },
      responses: { ...seeOther('to the sign-in page'), ...htmlProblems(400, 401, 403) },
    }),
    async (c) => {
      checkForm(c, c.req.valid('form').form);
      await endSession(c, deps.nonces);
      return c.redirect(to(view(c), '/login'), 303) as never;
    },
  );
}

/** An operator's API key, posted once, becomes a session. */
function signInForms({ app, deps }: ConsoleRoutes, open: ReturnType<typeof pageRoute>): void {
  app.openapi(
    open({
      method: 'post',
      path: '/login',
      summary:
        "Console: sign in with an operator's API key; a session cookie (HttpOnly, SameSite=Strict) for 8 hours",
      request: {
        ...form({
          key: z
            .string()
            .max(200)
            .openapi({ description: 'an API key of a partner with the operator scope' }),
          next: z.string().max(2000).optional(),
        }),
      },
      responses: { ...seeOther('signed in: to the page asked for'), ...htmlProblems(400, 401, 403, 429) },
    }),
    async (c) => {
      const body = c.req.valid('form');
      checkForm(c, body.form);
      const next = safeNext(c.get('door'), body.next);
      // Keys are 256 random bits, so guessing is hopeless; the limit keeps a flood of tries from costing much.
      if (!(await deps.rateLimiter.take('console:sign-in', 10).catch(() => true)))
        throw new HttpProblem(429, 'Too Many Requests', 'too many sign-ins a second; try again', {
          'Retry-After': '1',
        });
      const doc = await deps.partners.read();
      const found = findApiKey(doc, body.key.trim());
      if (!found)
        return (await signInForm(
          c,
          next,
          401,
          'that API key is not valid (revoked, mistyped, or never issued)',
        )) as never;
      if (!new Scopes(found.partner.scopes).operator)
        return (await signInForm(
          c,
          next,
          403,
          `partner ${found.id} has no operator scope: the console is for operators`,
        )) as never;
      startSession(c, doc.signingKey, { partner: found.id, keyId: found.keyId });
      return c.redirect(next, 303) as never;
    },
  );
}
