import { createRoute, type OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { PublishedReader } from '../publish/reader.ts';
import type { AppDeps, AppEnv } from '../web/context.ts';
import { view } from '../web/pages.ts';
import type { HttpProblem } from '../web/problem.ts';
import { PARTNER_SECURITY } from '../web/route.ts';
import { type Html, PAGE_HEADERS, page, type Section } from './layout.ts';
import { errorPage } from './pages/overview.ts';
import type { ArchiveReader } from './reads.ts';

/** What every page group of the console is registered with. */
export interface ConsoleRoutes {
  readonly app: OpenAPIHono<AppEnv>;
  readonly deps: AppDeps;
  readonly published: PublishedReader;
  readonly archive: ArchiveReader;
  /** A page behind the console's guard, documented as such. */
  readonly route: ReturnType<typeof pageRoute>;
}

const tags = ['console'];
/** A browser's console session (a cookie), or the partner API's own credentials. */
const SECURITY = [{ consoleSession: [] }, ...PARTNER_SECURITY];

/** Pages behind `middleware` (the guard, or for signing in only the signing key), documented as such. */
export function pageRoute(middleware: MiddlewareHandler<AppEnv>, security = SECURITY) {
  return <R extends RouteConfig>(r: R) =>
    createRoute({ ...r, tags, middleware: [middleware] as [MiddlewareHandler<AppEnv>], security });
}

/** A console form's body: its fields, and the form token every form carries (see session.ts). */

/** A whole page as the answer, with the console's headers. */
export async function respond(
  c: Context<AppEnv>,
  content: { title: string; section?: Section; body: Html; signedOut?: boolean },
  status = 200,
  headers: Record<string, string> = {},
): Promise<Response> {
  const text = await page(view(c), content);
  return c.html(text, status as 200, { ...PAGE_HEADERS, ...headers });
}

/** A problem met in the console, as a page (the console's error handler and its unknown paths). */
export function consoleProblem(c: Context<AppEnv>, p: HttpProblem): Promise<Response> {
  return respond(c, { title: p.title, body: errorPage(view(c), p) }, p.status, p.headers);
}
