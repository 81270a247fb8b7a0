import { HTTPException } from 'hono/http-exception';
import { DatabaseOutcomeUnknownError, isDatabaseUnavailable } from '../db/transient.ts';
import { ConflictError, NotFoundError, StrataError, UsageError } from '../errors.ts';
import { FlatGeobufError } from '../features/flatgeobuf.ts';
import { PartnerDirectoryError } from '../partners/credentials.ts';

/**
 * An answer other than success, as RFC 9457 `application/problem+json`: what went wrong in `detail`, for
 * the person reading it. Raised by routes and middleware; the app's error handler turns it into the response.
 */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

export const badRequest = (detail: string) => new HttpProblem(400, 'Bad Request', detail);
export const forbidden = (detail: string) => new HttpProblem(403, 'Forbidden', detail);
export const notFound = (detail: string) => new HttpProblem(404, 'Not Found', detail);

/** Seconds a client should wait for Aurora to resume from 0 ACU (it takes about 15). */
export const RESUME_RETRY_SECONDS = 15;

/**
 * Any error, as a problem. Domain errors keep their message (they are written for users); anything
 * unexpected becomes a 500 that says nothing of the inside, and `internal` is true so the edge logs it.
 */
export function toProblem(
  error: unknown,
  request?: { contentType?: string },
): HttpProblem & { internal?: boolean } {
  if (error instanceof HttpProblem) return error;
  // What Hono's validators refuse before a route runs: a body of a type the route does not take, or
  // JSON or a form that cannot be parsed. The client's mistake, so its status, never a 500.
  if (error instanceof HTTPException && error.status < 500) {
    if (error.status === 415)
      return new HttpProblem(
        415,
        'Unsupported Media Type',
        `this route does not take a body of type "${request?.contentType ?? 'none'}" (see its request body in /openapi.json: JSON routes take application/json, the console's forms application/x-www-form-urlencoded)`,
      );
    return new HttpProblem(
      error.status,
      error.status === 400 ? 'Bad Request' : 'Client Error',
      error.message,
    );
  }
  if (error instanceof NotFoundError) return notFound(error.message);
  if (error instanceof ConflictError) return new HttpProblem(409, 'Conflict', error.message);
  if (error instanceof UsageError) return badRequest(error.message);
  // A change was sent and its answer never came: no Retry-After, since a blind retry could make it twice.
  if (error instanceof DatabaseOutcomeUnknownError)
    return Object.assign(
      new HttpProblem(
        504,
        'Gateway Timeout',
        'the database did not confirm the change in time, so it may or may not have been made: look (GET the runs) before sending it again, or send it again with the same Idempotency-Key, which finds the first one if it was made',
      ),
      { internal: true },
    );
  // The Data API gave up waiting for a paused cluster within the request's budget, or the database is away.
  if (isDatabaseUnavailable(error))
    return new HttpProblem(
      503,
      'Service Unavailable',
      `the database is resuming from pause; try again in ${RESUME_RETRY_SECONDS} seconds`,
      { 'Retry-After': String(RESUME_RETRY_SECONDS) },
    );
  const problem = Object.assign(
    new HttpProblem(
      500,
      'Internal Server Error',
      error instanceof PartnerDirectoryError
        ? 'the partner directory cannot be read; the operators have been told'
        : error instanceof FlatGeobufError
          ? `a published file cannot be read: ${error.message}`
          : error instanceof StrataError
            ? error.message
            : 'an internal error occurred; the operators have been told',
    ),
    { internal: true },
  );
  return problem;
}

export function problemBody(p: HttpProblem, instance?: string) {
  return {
    type: 'about:blank',
    title: p.title,
    status: p.status,
    detail: p.detail,
    ...(instance ? { instance } : {}),
  };
}

/**
 * Any error as a problem, as both error handlers (the partner API's and the console's) answer it; an
 * internal one is told to the operators' log with where it happened.
 */
export function problemOf(
  error: unknown,
  request: { path: string; contentType?: string },
  log?: (message: string, detail?: Record<string, unknown>) => void,
): HttpProblem {
  const p = toProblem(error, { contentType: request.contentType });
  if (p.internal)
    log?.('request failed', { path: request.path, error: String((error as Error)?.stack ?? error) });
  return p;
}

/** What a request that matched no route is told. */
export const noRoute = (method: string, path: string) =>
  new HttpProblem(404, 'Not Found', `no route ${method} ${path}`);
