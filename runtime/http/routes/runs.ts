import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { NotFoundError } from '../../errors.ts';
import type { Run } from '../../runs/schema.ts';
import { RunStatus } from '../../runs/schema.ts';
import type { AppDeps, AppEnv, Principal } from '../../web/context.ts';
import { type Door, link } from '../../web/door.ts';
import { RunId } from '../../web/params.ts';
import { notFound } from '../../web/problem.ts';
import { guardedBy } from '../../web/route.ts';
import * as S from '../schemas.ts';

/** A partner sees the runs it started (its uploads and builds); an operator sees every run. */
export function mayView(p: Principal, run: Run): boolean {
  return p.scopes.operator || (run.trigger.by === p.partner && ['api', 'upload'].includes(run.trigger.kind));
}

const record = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : null);

/** A run as partners see it: its own fields as recorded, the receipt lifted out, and where its outputs are. */
export function runView(run: Run, door: Door) {
  const links = [{ rel: 'self', href: link(door, `/runs/${run.id}`), type: 'application/json' }];
  const version = typeof run.result?.version === 'string' ? run.result.version : undefined;
  if (run.kind === 'build' && version && run.status === 'succeeded')
    links.push({
      rel: 'product-version',
      href: link(door, `/products/${run.target}/versions/${version}`),
      type: 'application/json',
    });
  if (run.kind === 'ingest' && run.status === 'succeeded')
    links.push({
      rel: 'dataset-versions',
      href: link(door, `/datasets/${run.target}/versions`),
      type: 'application/json',
    });
  return {
    id: run.id,
    kind: run.kind,
    target: run.target,
    status: run.status,
    trigger: { kind: run.trigger.kind, ...(run.trigger.by ? { by: run.trigger.by } : {}) },
    attempts: run.attempts,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    error: run.error,
    lineage: run.lineage,
    result: run.result,
    receipt: record(run.result?.receipt) ?? record(run.error?.receipt),
    links,
  };
}

/** `GET /runs/{id}`: status, timings, error, lineage and receipt of one of the partner's own runs. */
export function runRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps, guard: MiddlewareHandler<AppEnv>): void {
  const route = guardedBy(guard);
  app.openapi(
    route({
      method: 'get',
      path: '/runs/{id}',
      tags: ['runs'],
      summary:
        "One of this partner's runs (an upload's ingest, a build): status, timings, error, lineage, receipt",
      request: { params: z.object({ id: RunId }) },
      responses: {
        200: { description: 'the run', content: { 'application/json': { schema: S.Run } } },
        ...S.problems(401, 404, 429, 503),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const p = c.get('principal');
      let run: Run;
      try {
        run = await deps.runs.get(id);
      } catch (e) {
        if (e instanceof NotFoundError) throw notFound(`no run "${id}" of yours`);
        throw e;
      }
      // Someone else's run is answered exactly like a missing one.
      if (!mayView(p, run)) throw notFound(`no run "${id}" of yours`);
      return c.json(runView(run, c.get('door')), 200);
    },
  );
}

/** Operators' routes (the console will add more here). */
export function operatorRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: AppDeps,
  guard: MiddlewareHandler<AppEnv>,
): void {
  const route = guardedBy(guard);
  app.openapi(
    route({
      method: 'get',
      path: '/runs',
      tags: ['operators'],
      summary: 'Recent runs, newest first (operators)',
      request: {
        query: z.object({
          status: RunStatus.optional(),
          target: z.string().max(200).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
      },
      responses: {
        200: {
          description: 'runs',
          content: { 'application/json': { schema: z.array(z.record(z.string(), z.unknown())) } },
        },
        ...S.problems(401, 403, 503),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      return c.json(
        await deps.runs.list({ status: q.status, target: q.target, limit: q.limit }),
        200,
      ) as never;
    },
  );
}
