import { createRoute, type OpenAPIHono, type RouteConfig, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { PublishedReader } from '../publish/reader.ts';
import type { AppDeps, AppEnv } from '../web/context.ts';
import type { HttpProblem } from '../web/problem.ts';
import { PARTNER_SECURITY } from '../web/route.ts';
import { type Html, PAGE_HEADERS, page, type Section, type View } from './layout.ts';
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

export const htmlPage = (description: string) => ({
  description,
  content: { 'text/html': { schema: z.string().openapi({ description: 'an HTML page' }) } },
});
export const htmlProblems = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, htmlPage(`the problem, as a page (${s})`)]));
export const seeOther = (description: string) => ({ 303: { description } });
export const toSignIn = { 303: { description: 'to sign in' } };

/** A console form's body: its fields, and the form token every form carries (see session.ts). */
export const form = <T extends z.ZodRawShape>(fields: T) => ({
  body: {
    required: true,
    content: {
      'application/x-www-form-urlencoded': {
        schema: z.object({
          form: z.string().max(2000).openapi({ description: "the form's token, as the page gave it" }),
          ...fields,
        }),
      },
    },
  },
});

export const view = (c: Context<AppEnv>): View => ({
  door: c.get('door'),
  principal: c.get('principal'),
  signingKey: c.get('signingKey'),
});

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
