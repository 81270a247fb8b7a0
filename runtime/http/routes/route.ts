import { createRoute, type RouteConfig } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../context.ts';

/** Hawk, or an API key as a bearer token or in X-API-Key: what every partner route accepts. */
export const PARTNER_SECURITY: Record<string, string[]>[] = [{ hawk: [] }, { bearer: [] }, { apiKey: [] }];

/** Routes behind `guard` (authentication, then the partner's rate limit), documented as such. */
export function guardedBy(guard: MiddlewareHandler<AppEnv>) {
  return <R extends RouteConfig>(route: R) =>
    createRoute({ ...route, middleware: [guard] as [MiddlewareHandler<AppEnv>], security: PARTNER_SECURITY });
}
