import { createRoute, type OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { html } from 'hono/html';
import { uploadKey } from '../layout/buckets.ts';
import type { PublishedReader } from '../publish/reader.ts';
import type { AppDeps, AppEnv } from '../web/context.ts';
import type { Html } from '../web/format.ts';
import type { View } from '../web/pages.ts';
import { view } from '../web/pages.ts';
import type { HttpProblem } from '../web/problem.ts';
import { PAGE_HEADERS, page, portalCsp, type Section, to } from './layout.ts';
import { authorizationOrigin } from './oidc.ts';

/** What every page group of the portal is registered with. */
export interface PortalRoutes {
  readonly app: OpenAPIHono<AppEnv>;
  readonly deps: AppDeps;
  readonly published: PublishedReader;
  /** A page behind the portal's guard, documented as such. */
  readonly route: ReturnType<typeof pageRoute>;
}

const tags = ['portal'];
const SECURITY = [{ portalSession: [] }];

/** Pages behind `middleware` (the guard, or for signing in only the signing key), documented as such. */
export function pageRoute(middleware: MiddlewareHandler<AppEnv>, security = SECURITY) {
  return <R extends RouteConfig>(r: R) =>
    createRoute({ ...r, tags, middleware: [middleware] as [MiddlewareHandler<AppEnv>], security });
}

/** A portal form's body: its fields, and the form token every form carries (see runtime/web/session.ts). */

/**
 * Where this door's presigned uploads go, for the pages' policy: S3's endpoint on AWS, this server locally.
 * A presigned URL is made without a request (an HMAC), so asking for one costs nothing.
 */
async function uploadOrigin(c: Context<AppEnv>, deps: AppDeps): Promise<string | undefined> {
  const target = await deps.urls.upload(
    uploadKey('_', '_', '_'),
    { size: 1, contentType: 'text/csv' },
    { door: c.get('door'), signingKey: c.get('signingKey') },
  );
  const at = new URL(target.url).origin;
  return at === new URL(c.req.url).origin ? undefined : at;
}

/** A whole page as the answer, with the portal's headers. */
export async function respond(
  c: Context<AppEnv>,
  deps: AppDeps,
  content: { title: string; section?: Section; body: Html; signedOut?: boolean },
  status = 200,
  headers: Record<string, string> = {},
): Promise<Response> {
  const text = await page(view(c), content);
  const signIn =
    content.signedOut && deps.portalSignIn ? await authorizationOrigin(deps.portalSignIn) : undefined;
  const csp = portalCsp(c.get('signingKey') ? await uploadOrigin(c, deps) : undefined, signIn);
  return c.html(text, status as 200, {
    ...PAGE_HEADERS,
    'content-security-policy': csp,
    ...headers,
  });
}

/** An error as a page: what went wrong, for the person reading it, and where to go from there. */
function errorPage(v: View, p: HttpProblem): Html {
  const retry = p.headers['Retry-After'];
  return html`<h1>${p.title}</h1>
<div class="notice bad" role="alert"><p>${p.detail}</p>
${retry ? html`<p>Try again in ${retry} second(s): <a href="">load this page again</a>.</p>` : ''}</div>
<p><a href="${to(v)}">Back to your data</a></p>`;
}

/** A problem met in the portal, as a page (its error handler and its unknown paths). */
export function portalProblem(c: Context<AppEnv>, deps: AppDeps, p: HttpProblem): Promise<Response> {
  return respond(c, deps, { title: p.title, body: errorPage(view(c), p) }, p.status, p.headers);
}
