import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { findApiKey } from '../../partners/credentials.ts';
import type { AppDeps, AppEnv, PortalSignIn } from '../../web/context.ts';
import { form, htmlPage, htmlProblems, view } from '../../web/pages.ts';
import { HttpProblem } from '../../web/problem.ts';
import { withSigningKey } from '../../web/route.ts';
import { activeSession, checkForm, endSession, safeNext, startSession } from '../../web/session.ts';
import { to } from '../layout.ts';
import { beginSignIn, finishSignIn } from '../oidc.ts';
import { loginPage } from '../pages/sign-in.ts';
import { PORTAL } from '../realm.ts';
import { type PortalRoutes, pageRoute, respond } from '../respond.ts';

const signedIn = async (c: Context<AppEnv>, deps: AppDeps) =>
  (await activeSession(c, PORTAL, await deps.partners.read(), deps.nonces)) !== undefined;

const signInForm = (c: Context<AppEnv>, deps: AppDeps, next: string, status = 200, problem?: string) => {
  const oidc = deps.portalSignIn && { name: deps.portalSignIn.label ?? "your organisation's login" };
  const body = loginPage(view(c), next, problem, oidc);
  return respond(c, deps, { title: 'Sign in', body, signedOut: true }, status);
};

/** Signing in and out: open to all (there is nobody to guard yet), with the signing key at hand. */
export function signInPages(routes: PortalRoutes): void {
  const { app, deps, route } = routes;
  const open = pageRoute(withSigningKey(deps), []);
  app.openapi(
    open({
      method: 'get',
      path: '/login',
      summary: "Portal: the sign-in page (an API key of the partner's, posted once)",
      request: { query: z.object({ next: z.string().max(2000).optional() }) },
      responses: { 200: htmlPage('the sign-in form'), 303: { description: 'signed in already' } },
    }),
    async (c) => {
      const next = safeNext(PORTAL, c.get('door'), c.req.valid('query').next);
      if (await signedIn(c, deps)) return c.redirect(next, 303) as never;
      return (await signInForm(c, deps, next)) as never;
    },
  );
  apiKeySignIn(routes, open);
  if (deps.portalSignIn) oidcSignIn(routes, open, deps.portalSignIn);
  app.openapi(
    route({
      method: 'post',
      path: '/logout',
      summary: 'Portal: sign out (ends the session on the server: a copy of its cookie stops working too)',
      request: { ...form({}) },
      responses: { 303: { description: 'to the sign-in page' }, ...htmlProblems(400, 401, 403) },
    }),
    async (c) => {
      checkForm(c, PORTAL, c.req.valid('form').form);
      await endSession(c, PORTAL, deps.nonces);
      return c.redirect(to(view(c), '/login'), 303) as never;
    },
  );
}

/** A partner's API key, posted once, becomes a session (the fallback to an organisation's login). */
function apiKeySignIn({ app, deps }: PortalRoutes, open: ReturnType<typeof pageRoute>): void {
  app.openapi(
    open({
      method: 'post',
      path: '/login',
      summary:
        "Portal: sign in with the partner's API key; a session cookie (HttpOnly, SameSite=Strict) for 8 hours",
      request: {
        ...form({
          key: z.string().max(200).openapi({ description: "an API key of the partner's" }),
          next: z.string().max(2000).optional(),
        }),
      },
      responses: {
        303: { description: 'signed in: to the page asked for' },
        ...htmlProblems(400, 401, 403, 429),
      },
    }),
    async (c) => {
      const body = c.req.valid('form');
      checkForm(c, PORTAL, body.form);
      const next = safeNext(PORTAL, c.get('door'), body.next);
      // Keys are 256 random bits, so guessing is hopeless; the limit keeps a flood of tries from costing much.
      if (!(await deps.rateLimiter.take('portal:sign-in', 10).catch(() => true)))
        throw new HttpProblem(429, 'Too Many Requests', 'too many sign-ins a second; try again', {
          'Retry-After': '1',
        });
      const doc = await deps.partners.read();
      const found = findApiKey(doc, body.key.trim());
      if (!found)
        return (await signInForm(
          c,
          deps,
          next,
          401,
          'that API key is not valid (revoked, mistyped, or never issued)',
        )) as never;
      startSession(c, PORTAL, doc.signingKey, { partner: found.id, keyId: found.keyId });
      return c.redirect(next, 303) as never;
    },
  );
}

/** The organisation's OpenID Connect login (code flow with PKCE): out to the provider, and back. */
function oidcSignIn(
  { app, deps }: PortalRoutes,
  open: ReturnType<typeof pageRoute>,
  settings: PortalSignIn,
): void {
  app.openapi(
    open({
      method: 'post',
      path: '/login/oidc',
      summary:
        "Portal: sign in with the organisation's OpenID Connect provider (to it, with PKCE and a state)",
      request: { ...form({ next: z.string().max(2000).optional() }) },
      responses: { 303: { description: "to the organisation's login" }, ...htmlProblems(400, 403, 503) },
    }),
    async (c) => {
      const body = c.req.valid('form');
      checkForm(c, PORTAL, body.form);
      const next = safeNext(PORTAL, c.get('door'), body.next);
      return c.redirect(await beginSignIn(c, settings, c.get('signingKey'), next), 303) as never;
    },
  );
  app.openapi(
    open({
      method: 'get',
      path: '/login/oidc/callback',
      summary:
        "Portal: where the organisation's login sends the browser back; a session for the partner its claim names",
      request: {
        query: z
          .object({ code: z.string().max(4000).optional(), state: z.string().max(1000).optional() })
          .passthrough(),
      },
      responses: { 303: { description: 'signed in: to the page asked for' }, ...htmlProblems(401, 403, 503) },
    }),
    async (c) => {
      const doc = await deps.partners.read();
      const who = await finishSignIn(c, settings, doc);
      startSession(c, PORTAL, doc.signingKey, { partner: who.partner, user: who.user });
      return c.redirect(who.next, 303) as never;
    },
  );
}
