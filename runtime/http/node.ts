import { createServer, type Server } from 'node:http';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../web/context.ts';
import { nodeDoor } from '../web/door.ts';

/** A Node HTTP server for the app; the request line as received is what Hawk verifies. */
export function nodeServer(app: OpenAPIHono<AppEnv>): Server {
  const listener = getRequestListener((request, env) => {
    const incoming = (env as HttpBindings).incoming;
    return app.fetch(request, { door: nodeDoor(incoming.headers.host, incoming.url ?? '/') });
  });
  return createServer(listener);
}
