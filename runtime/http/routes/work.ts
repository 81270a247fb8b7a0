import { randomBytes } from 'node:crypto';
import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { safeFilename } from '../../archive/archive.ts';
import { submit, submitOnce } from '../../jobs/submit.ts';
import { uploadKey } from '../../layout/buckets.ts';
import { takesUploadsFrom, UPLOAD_CONTENT_TYPES } from '../../partners/uploads.ts';
import { isInProgressName } from '../../triggers/ingress.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { link } from '../door.ts';
import { badRequest, forbidden, HttpProblem, notFound } from '../problem.ts';
import * as S from '../schemas.ts';
import { forbiddenFor } from './catalog.ts';
import { guardedBy } from './route.ts';
import { runView } from './runs.ts';

const Name = S.NameParam;
const UploadId = z
  .string()
  .regex(/^u[0-9a-f]{12}-[\w.-]{1,120}$/, 'must be an upload id')
  .openapi({ param: { name: 'uploadId', in: 'path' } });

/**
 * The routes that change something: uploads (a presigned PUT into the partner's prefix of the ingress
 * bucket, which the object-created trigger then ingests) and builds. These, and run status, are the only
 * ones that touch the database.
 */
export function workRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps, guard: MiddlewareHandler<AppEnv>): void {
  const route = guardedBy(guard);
  const { catalog } = deps;

  app.openapi(
    route({
      method: 'post',
      path: '/datasets/{name}/uploads',
      tags: ['uploads'],
      summary: 'A presigned PUT for one file into the dataset; the file is ingested once it lands',
      request: {
        params: z.object({ name: Name.openapi({ param: { name: 'name', in: 'path' } }) }),
        body: { content: { 'application/json': { schema: S.UploadRequest } }, required: true },
      },
      responses: {
        201: {
          description: 'where and how to PUT the file',
          content: { 'application/json': { schema: S.Upload } },
        },
        ...S.problems(400, 401, 403, 404, 413, 415, 429),
      },
    }),
    async (c) => {
      const p = c.get('principal');
      const { name } = c.req.valid('param');
      const body = c.req.valid('json');
      if (!p.scopes.allows('upload', 'datasets', name)) forbiddenFor('upload to', 'datasets', name);
      const dataset = catalog.datasets.get(name);
      if (!dataset) throw notFound(`no dataset "${name}"`);
      if (!takesUploadsFrom(dataset, p.partner))
        throw forbidden(
          `dataset "${name}" is fed by ${dataset.source.kind === 'http' ? 'an HTTP source' : 'another sender'}, not by your uploads`,
        );
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
      const uploadId = `u${randomBytes(6).toString('hex')}-${safeFilename(body.filename)}`;
      const key = uploadKey(p.partner, name, uploadId);
      const door = c.get('door');
      const target = await deps.urls.upload(
        key,
        { size: body.size, contentType },
        { door, signingKey: c.get('signingKey') },
      );
      return c.json(
        {
          uploadId,
          dataset: name,
          key,
          ...target,
          headers: { ...target.headers },
          links: [
            {
              rel: 'status',
              href: link(door, `/datasets/${name}/uploads/${uploadId}`),
              type: 'application/json',
            },
          ],
        },
        201,
      );
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/datasets/{name}/uploads/{uploadId}',
      tags: ['uploads'],
      summary:
        "An upload's ingest: waiting, then its run with the receipt (the version it became, or every problem)",
      request: {
        params: z.object({ name: Name.openapi({ param: { name: 'name', in: 'path' } }), uploadId: UploadId }),
      },
      responses: {
        200: { description: 'the upload', content: { 'application/json': { schema: S.UploadStatus } } },
        ...S.problems(401, 403, 404, 429, 503),
      },
    }),
    async (c) => {
      const p = c.get('principal');
      const { name, uploadId } = c.req.valid('param');
      if (!p.scopes.allows('upload', 'datasets', name)) forbiddenFor('upload to', 'datasets', name);
      const door = c.get('door');
      // The key holds the partner's own id, so this finds only its own uploads.
      const run = await deps.runs.findByUploadKey(uploadKey(p.partner, name, uploadId));
      return c.json(
        {
          uploadId,
          dataset: name,
          status: run?.status ?? 'waiting',
          run: run ? runView(run, door) : null,
          links: [
            {
              rel: 'self',
              href: link(door, `/datasets/${name}/uploads/${uploadId}`),
              type: 'application/json',
            },
          ],
        },
        200,
      );
    },
  );

  app.openapi(
    route({
      method: 'post',
      path: '/products/{name}/builds',
      tags: ['builds'],
      summary: 'Queue a build; the same Idempotency-Key again returns the first run',
      request: {
        params: z.object({ name: Name.openapi({ param: { name: 'name', in: 'path' } }) }),
        headers: z.object({
          'idempotency-key': z
            .string()
            .regex(/^[\x21-\x7e]{1,200}$/, 'must be 1 to 200 visible ASCII characters')
            .optional(),
        }),
      },
      responses: {
        202: { description: 'queued', content: { 'application/json': { schema: S.BuildQueued } } },
        200: {
          description: 'already queued with this Idempotency-Key',
          content: { 'application/json': { schema: S.BuildQueued } },
        },
        ...S.problems(400, 401, 403, 404, 429, 503),
      },
    }),
    async (c) => {
      const p = c.get('principal');
      const { name } = c.req.valid('param');
      const idempotencyKey = c.req.valid('header')['idempotency-key'];
      if (!p.scopes.allows('build', 'products', name)) forbiddenFor('build', 'products', name);
      if (!catalog.products.has(name)) throw notFound(`no product "${name}"`);
      const trigger = {
        kind: 'api' as const,
        by: p.partner,
        ...(idempotencyKey ? { detail: { idempotencyKey } } : {}),
      };
      const job = { kind: 'build' as const, product: name };
      const { run, created } = idempotencyKey
        ? await submitOnce(deps, job, trigger, `api:${p.partner}:build:${name}:${idempotencyKey}`)
        : { run: await submit(deps, job, trigger), created: true };
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
