import { createRoute, OpenAPIHono, type RouteConfig, type z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { AppDeps, AppEnv } from './context.ts';
import { badRequest } from './problem.ts';

/** Hawk, or an API key as a bearer token or in X-API-Key: what every partner route accepts. */
export const PARTNER_SECURITY: Record<string, string[]>[] = [{ hawk: [] }, { bearer: [] }, { apiKey: [] }];

/** Routes behind `guard` (authentication, then the partner's rate limit), documented as such. */
export function guardedBy(guard: MiddlewareHandler<AppEnv>) {
  return <R extends RouteConfig>(route: R) =>
    createRoute({ ...route, middleware: [guard] as [MiddlewareHandler<AppEnv>], security: PARTNER_SECURITY });
}

/** Validation failures name the parameter and what is wrong with it. */
function describeIssues(target: string, error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const where = i.path.length > 0 ? `${target} ${i.path.join('.')}` : target;
      return i.code === 'unrecognized_keys'
        ? `${target}: unknown parameter(s) ${i.keys.join(', ')}`
        : `${where}: ${i.message}`;
    })
    .join('; ');
}

/** An application (the partner API, or the console it mounts) whose invalid requests are a 400 saying why. */
export function routedApp(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw badRequest(describeIssues(result.target, result.error));
    },
  });
}

/** The signing key (cursors, local URLs, console sessions) travels with the partner directory, so it rotates with it. */
export function withSigningKey(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('signingKey', (await deps.partners.read()).signingKey);
    await next();
  };
}
