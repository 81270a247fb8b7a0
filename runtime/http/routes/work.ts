import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { submit, submitOnce } from '../../jobs/submit.ts';
import type { AppDeps, AppEnv, Principal } from '../../web/context.ts';
import { type Door, link } from '../../web/door.ts';
import { NameParam } from '../../web/params.ts';
import { notFound } from '../../web/problem.ts';
import { forbiddenFor } from '../../web/published.ts';
import { guardedBy } from '../../web/route.ts';
import { newUpload, UPLOAD_ID_PATTERN, uploadRun } from '../../web/uploads.ts';
import * as S from '../schemas.ts';
import { runView } from './runs.ts';

const nameParams = z.object({ name: NameParam.openapi({ param: { name: 'name', in: 'path' } }) });
const UploadId = z
  .string()
  .regex(UPLOAD_ID_PATTERN, 'must be an upload id')
  .openapi({ param: { name: 'uploadId', in: 'path' } });

/** An upload's ingest: waiting, or its run. The key holds the partner's own id, so only its own are found. */
async function uploadStatus(deps: AppDeps, p: Principal, name: string, uploadId: string, door: Door) {
  const run = await uploadRun(deps, p, name, uploadId);
  return {
    uploadId,
    dataset: name,
    status: run?.status ?? 'waiting',
    run: run ? runView(run, door) : null,
    links: [
      { rel: 'self', href: link(door, `/datasets/${name}/uploads/${uploadId}`), type: 'application/json' },
    ],
  };
}

/** A build queued for the partner; the same Idempotency-Key again finds the first run. */
async function queueBuild(deps: AppDeps, p: Principal, name: string, idempotencyKey: string | undefined) {
  if (!p.scopes.allows('build', 'products', name)) forbiddenFor('build', 'products', name);
  if (!deps.catalog.products.has(name)) throw notFound(`no product "${name}"`);
  const trigger = {
    kind: 'api' as const,
    by: p.partner,
    ...(idempotencyKey ? { detail: { idempotencyKey } } : {}),
  };
  const job = { kind: 'build' as const, product: name };
  return idempotencyKey
    ? submitOnce(deps, job, trigger, `api:${p.partner}:build:${name}:${idempotencyKey}`)
    : { run: await submit(deps, job, trigger), created: true };
}

/**
 * The routes that change something: uploads (a presigned PUT into the partner's prefix of the ingress
 * bucket, which the object-created trigger then ingests) and builds. These, and run status, are the only
 * ones that touch the database.
 */
export function workRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps, guard: MiddlewareHandler<AppEnv>): void {
  const route = guardedBy(guard);
  app.openapi(
    route({
      method: 'post',
      path: '/datasets/{name}/uploads',
      tags: ['uploads'],
      summary: 'A presigned PUT for one file into the dataset; the file is ingested once it lands',
      request: {
        params: nameParams,
        body: { content: { 'application/json': { schema: S.UploadRequest } }, required: true },
      },
      responses: {
        201: S.json(S.Upload, 'where and how to PUT the file'),
        ...S.problems(400, 401, 403, 404, 413, 415, 429),
      },
    }),
    async (c) => c.json(await newUpload(deps, c, c.req.valid('param').name, c.req.valid('json')), 201),
  );
  app.openapi(
    route({
      method: 'get',
      path: '/datasets/{name}/uploads/{uploadId}',
      tags: ['uploads'],
      summary:
        "An upload's ingest: waiting, then its run with the receipt (the version it became, or every problem)",
      request: { params: nameParams.extend({ uploadId: UploadId }) },
      responses: { 200: S.json(S.UploadStatus, 'the upload'), ...S.problems(401, 403, 404, 429, 503) },
    }),
    async (c) => {
      const { name, uploadId } = c.req.valid('param');
      return c.json(await uploadStatus(deps, c.get('principal'), name, uploadId, c.get('door')), 200);
    },
  );
  buildRoutes(app, deps, route);
}

function buildRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps, route: ReturnType<typeof guardedBy>): void {
  app.openapi(
    route({
      method: 'post',
      path: '/products/{name}/builds',
      tags: ['builds'],
      summary: 'Queue a build; the same Idempotency-Key again returns the first run',
      request: {
        params: nameParams,
        headers: z.object({
          'idempotency-key': z
            .string()
            .regex(/^[\x21-\x7e]{1,200}$/, 'must be 1 to 200 visible ASCII characters')
            .optional(),
        }),
      },
      responses: {
        202: S.json(S.BuildQueued, 'queued'),
        200: S.json(S.BuildQueued, 'already queued with this Idempotency-Key'),
        ...S.problems(400, 401, 403, 404, 429, 503),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const key = c.req.valid('header')['idempotency-key'];
      const { run, created } = await queueBuild(deps, c.get('principal'), name, key);
      const body = {
        runId: run.id,
        status: run.status,
        duplicate: !created,
        links: [{ rel: 'run', href: link(c.get('door'), `/runs/${run.id}`), type: 'application/json' }],
      };
      return created ? c.json(body, 202) : c.json(body, 200);
    },
  );
}
