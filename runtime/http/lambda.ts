import type { OpenAPIHono } from '@hono/zod-openapi';
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { AppEnv } from '../web/context.ts';
import { type Door, parseHost, querySpellings } from '../web/door.ts';

/** What the adapter reads of an API Gateway REST proxy event (the powertools schema's shape). */
export interface RestProxyEvent {
  readonly resource: string;
  readonly path: string;
  readonly httpMethod: string;
  readonly headers?: Record<string, string | undefined> | null;
  readonly multiValueHeaders?: Record<string, string[] | undefined> | null;
  readonly multiValueQueryStringParameters: Record<string, string[] | undefined> | null;
  readonly pathParameters?: Record<string, string | undefined> | null;
  readonly requestContext: {
    readonly path?: string | null;
    readonly domainName?: string | null;
    readonly stage?: string | null;
  };
  readonly body: string | null;
  readonly isBase64Encoded: boolean;
}

/** Lambda's limit on a synchronous response (6 MB of JSON), less room for the status and headers. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024 - 256 * 1024;

/**
 * A body sure to fit once it is written into that JSON: a text body's quotes and newlines are escaped (two
 * bytes for one) and a binary one is sent as base64 (four for three). Bigger files go as a short-lived URL.
 */
export const MAX_RESPONSE_BYTES = Math.floor(MAX_PAYLOAD_BYTES / 2);

/**
 * The path the app routes on: the resource template filled with the path parameters. Not `event.path`,
 * which carries a custom domain's base path (and not the stage), nor `requestContext.path`, which carries
 * either: the template is the same whichever way the client came in.
 */
export function routedPath(event: RestProxyEvent): string {
  const filled = event.resource.replace(
    /\{([^}+]+)\+?\}/g,
    (_, name: string) => event.pathParameters?.[name] ?? '',
  );
  return filled.startsWith('/') ? filled : `/${filled}`;
}

function headerOf(event: RestProxyEvent, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(event.multiValueHeaders ?? {}))
    if (k.toLowerCase() === lower) return v?.[0];
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/**
 * How the client addressed API Gateway: the Host it sent and the scheme and port API Gateway received on
 * (X-Forwarded-Proto, X-Forwarded-Port); the path the client sent is `requestContext.path`, so whatever
 * comes before the routed path there is the prefix (`/v1` on the execute-api domain, a base path on a
 * custom domain).
 */
export function eventDoor(event: RestProxyEvent): Door {
  const proto = headerOf(event, 'x-forwarded-proto') === 'http' ? 'http' : 'https';
  const { host, port: hostPort } = parseHost(
    headerOf(event, 'host') ?? event.requestContext.domainName ?? '',
    proto,
  );
  const forwardedPort = Number(headerOf(event, 'x-forwarded-port'));
  const routed = routedPath(event);
  const seen = event.requestContext.path ?? routed;
  const query: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(event.multiValueQueryStringParameters ?? {})) if (v) query[k] = v;
  const port = Number.isInteger(forwardedPort) && forwardedPort > 0 ? forwardedPort : hostPort;
  // The landing page asked for without its slash (`/v1`): the client signed the prefix alone.
  if (routed === '/' && !seen.endsWith('/'))
    return { proto, host, port, prefix: seen, targets: querySpellings(query) };
  const prefix = seen.endsWith(routed) ? seen.slice(0, seen.length - routed.length) : '';
  return {
    proto,
    host,
    port,
    prefix: prefix.replace(/\/+$/, ''),
    targets: querySpellings(query).map((q) => `${routed}${q}`),
  };
}

/** The event as a Fetch request on the routed path, with its headers and body as sent. */
export function toRequest(event: RestProxyEvent): Request {
  const door = eventDoor(event);
  const headers = new Headers();
  for (const [k, vs] of Object.entries(event.multiValueHeaders ?? {}))
    for (const v of vs ?? []) headers.append(k, v);
  if (!event.multiValueHeaders)
    for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers.set(k, v);
  const url = `${door.proto}://${door.host}${door.targets[0] ?? routedPath(event)}`;
  const method = event.httpMethod.toUpperCase();
  const body =
    event.body === null || method === 'GET' || method === 'HEAD'
      ? undefined
      : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  return new Request(url, { method, headers, body });
}

const TEXTUAL = /^(application\/([\w.+-]*json|problem\+json|xml)|text\/)/i;

export async function toResult(res: Response): Promise<APIGatewayProxyResult> {
  const multiValueHeaders: Record<string, string[]> = {};
  res.headers.forEach((v, k) => {
    multiValueHeaders[k] = [...(multiValueHeaders[k] ?? []), v];
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const textual = TEXTUAL.test(res.headers.get('content-type') ?? 'text/plain');
  const body = textual ? bytes.toString('utf8') : bytes.toString('base64');
  // Measured as Lambda measures it: the body as a JSON string, escapes and all. Over it, Lambda itself
  // would fail the call and API Gateway answer 502 with no reason.
  const payload = Buffer.byteLength(JSON.stringify(body));
  if (payload > MAX_PAYLOAD_BYTES)
    return {
      statusCode: 400,
      multiValueHeaders: { 'content-type': ['application/problem+json'] },
      body: JSON.stringify({
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        detail: `the response would be ${(payload / 1024 / 1024).toFixed(1)} MB, over the ${(MAX_PAYLOAD_BYTES / 1024 / 1024).toFixed(1)} MB a response can carry here: ask for a smaller limit`,
      }),
    };
  return {
    statusCode: res.status,
    multiValueHeaders,
    body,
    isBase64Encoded: !textual,
  };
}

/** One API Gateway event through the app. */
export async function handleEvent(
  app: OpenAPIHono<AppEnv>,
  event: RestProxyEvent,
): Promise<APIGatewayProxyResult> {
  return toResult(await app.fetch(toRequest(event), { door: eventDoor(event) }));
}
