import { randomBytes } from 'node:crypto';
import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { safeFilename } from '../../archive/archive.ts';
import type { Dataset } from '../../catalog/schema.ts';
import { submit, submitOnce } from '../../jobs/submit.ts';
import { uploadKey } from '../../layout/buckets.ts';
import { takesUploadsFrom, UPLOAD_CONTENT_TYPES } from '../../partners/uploads.ts';
import { isInProgressName } from '../../triggers/ingress.ts';
import type { AppDeps, AppEnv, Principal } from '../../web/context.ts';
import { type Door, link } from '../../web/door.ts';
import { NameParam } from '../../web/params.ts';
import { badRequest, forbidden, HttpProblem, notFound } from '../../web/problem.ts';
import { forbiddenFor } from '../../web/published.ts';
import { guardedBy } from '../../web/route.ts';
import * as S from '../schemas.ts';
import { runView } from './runs.ts';

const nameParams = z.object({ name: NameParam.openapi({ param: { name: 'name', in: 'path' } }) });
const UploadId = z
  .string()
  .regex(/^u[0-9a-f]{12}-[\w.-]{1,120}$/, 'must be an upload id')
  .openapi({ param: { name: 'uploadId', in: 'path' } });

type UploadRequest = z.infer<typeof S.UploadRequest>;

/** The dataset a partner may upload to, or the reason it may not (403, 404). */
function uploadableDataset(deps: AppDeps, p: Principal, name: string): Dataset {
  if (!p.scopes.allows('upload', 'datasets', name)) forbiddenFor('upload to', 'datasets', name);
  const dataset = deps.catalog.datasets.get(name);
  if (!dataset) throw notFound(`no dataset "${name}"`);
  if (!takesUploadsFrom(dataset, p.partner))
    throw forbidden(
      `dataset "${name}" is fed by ${dataset.source.kind === 'http' ? 'an HTTP source' : 'another sender'}, not by your uploads`,
    );
  return dataset;
}

/** The content type the upload will be signed for, once its name, size and type suit the dataset. */
function checkedUpload(deps: AppDeps, dataset: Dataset, body: UploadRequest): string {
  const name = dataset.name;
  const base = body.filename.split(/[\\/]/).pop() ?? '';
  if (isInProgressName(base))
    throw badRequest(
      `filename "${body.filename}" is a name for a file still being written (a dot file, or one ending .part or .tmp), which is never ingested: send it under its final name, such as "${base.replace(/^\.+/, '').replace(/\.(part|tmp)$/i, '') || 'data.csv'}"`,
    );
  const limit = Math.min(deps.maxUploadBytes, dataset.maxBytes ?? deps.maxUploadBytes);
  if (body.size > limit)
    throw new HttpProblem(
      413,
      'Content Too Large',
      `${body.size} bytes is over dataset "${name}"'s limit of ${limit} bytes`,
    );
  const types = UPLOAD_CONTENT_TYPES[dataset.format];
  const contentType = (body.contentType ?? types[0]!).toLowerCase();
  if (!types.includes(contentType))
    throw new HttpProblem(
      415,
      'Unsupported Media Type',
      `dataset "${name}" is ${dataset.format}: contentType must be one of ${types.join(', ')} (got ${contentType})`,
    );
  return contentType;
}

/** A presigned PUT for one file into the partner's own prefix of the ingress bucket. */
async function newUpload(deps: AppDeps, c: Context<AppEnv>, name: string, body: UploadRequest) {
  const p = c.get('principal');
  const contentType = checkedUpload(deps, uploadableDataset(deps, p, name), body);
  const uploadId = `u${randomBytes(6).toString('hex')}-${safeFilename(body.filename)}`;
  const key = uploadKey(p.partner, name, uploadId);
  const door = c.get('door');
  const target = await deps.urls.upload(
    key,
    { size: body.size, contentType },
    { door, signingKey: c.get('signingKey') },
  );
  return {
    uploadId,
    dataset: name,
    key,
    ...target,
    headers: { ...target.headers },
    links: [
      { rel: 'status', href: link(door, `/datasets/${name}/uploads/${uploadId}`), type: 'application/json' },
    ],
  };
}

/** An upload's ingest: waiting, or its run. The key holds the partner's own id, so only its own are found. */
async function uploadStatus(deps: AppDeps, p: Principal, name: string, uploadId: string, door: Door) {
  if (!p.scopes.allows('upload', 'datasets', name)) forbiddenFor('upload to', 'datasets', name);
  const run = await deps.runs.findByUploadKey(uploadKey(p.partner, name, uploadId));
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
