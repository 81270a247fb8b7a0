import { Readable } from 'node:stream';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { contentTypeOf } from '../../archive/archive.ts';
import { ObjectExistsError } from '../../ports/object-store.ts';
import { DEFAULT_WEBHOOK_LIMITS, decodeHookName, onWebhook } from '../../triggers/webhook.ts';
import { authenticateOperator } from '../../web/auth.ts';
import type { AppDeps, AppEnv, LocalRoutes } from '../../web/context.ts';
import { NameParam } from '../../web/params.ts';
import { HttpProblem } from '../../web/problem.ts';
import { guardedBy } from '../../web/route.ts';
import { readLocalGrant } from '../../web/urls.ts';
import * as S from '../schemas.ts';

/** Marks the routes only `strata serve` answers (on AWS: presigned S3 URLs and the webhook function). */
const LOCAL = { 'x-strata-local': true } as const;
const tags = ['local'];

const refused = (detail: string) => new HttpProblem(403, 'Forbidden', detail);

const token = z
  .string()
  .max(4000)
  .openapi({ param: { name: 'token', in: 'path' } });

/**
 * The body, or undefined when it is larger than `limit` bytes. What passes the limit is read and dropped,
 * not kept: the sender gets its 413 instead of a connection reset in the middle of its upload.
 */
async function bodyWithin(req: Request, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await req.body?.cancel();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  if (req.body)
    for await (const c of req.body as unknown as AsyncIterable<Uint8Array>) {
      size += c.length;
      if (size <= limit) chunks.push(Buffer.from(c));
    }
  return size > limit ? undefined : Buffer.concat(chunks);
}

/** A body read to its end, failing once it is longer than `size`; a shorter one fails when it ends. */
async function* exactly(body: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of body) {
    seen += chunk.length;
    if (seen > size)
      throw new HttpProblem(400, 'Bad Request', `the body is longer than the ${size} bytes signed for`);
    yield chunk;
  }
  if (seen < size)
    throw new HttpProblem(400, 'Bad Request', `the body ended after ${seen} of the ${size} bytes signed for`);
}

/** The webhook's answers, each a JSON body as the webhook function on AWS gives it. */
const WEBHOOK_ANSWERS = Object.fromEntries(
  Object.entries({
    202: 'build queued',
    200: 'a delivery seen before',
    400: 'no delivery id, or a hook name that is not valid percent-encoding',
    401: 'missing or wrong signature',
    404: 'no such hook',
    409: 'the same body was delivered within the replay window',
    413: 'the body is too large',
    429: 'the hook started its most runs for now (Retry-After)',
    503: 'the platform cannot take it now (Retry-After)',
  }).map(([status, description]) => [
    status,
    { description, content: { 'application/json': { schema: S.WebhookAccepted } } },
  ]),
);

/** A signed webhook, as the webhook function takes it on AWS. */
async function receiveWebhook(
  deps: AppDeps,
  local: LocalRoutes,
  c: Context<AppEnv>,
  headers: { 'x-hub-signature-256'?: string; 'x-github-delivery'?: string },
): Promise<Response> {
  // The raw segment: a malformed percent-escape is the sender's mistake (400), never a guess.
  const raw = /\/webhooks\/([^/]*)$/.exec(new URL(c.req.url).pathname)?.[1] ?? '';
  const hook = decodeHookName(raw);
  if (hook === undefined)
    return c.json({ error: 'the hook name in the path is not valid percent-encoding' }, 400);
  const limit = local.webhookLimits?.maxBodyBytes ?? DEFAULT_WEBHOOK_LIMITS.maxBodyBytes;
  const body = await bodyWithin(c.req.raw, limit);
  if (!body) {
    deps.log?.(`webhook ${raw}: 413`);
    return c.json({ error: `the body is larger than ${limit} bytes` }, 413);
  }
  const out = await onWebhook(
    { hook, body, signature: headers['x-hub-signature-256'], deliveryId: headers['x-github-delivery'] },
    {
      catalog: deps.catalog,
      runs: deps.runs,
      queue: deps.queue,
      secrets: local.webhookSecrets,
      limits: local.webhookLimits,
      log: (m, d) => deps.log?.(`webhook ${raw}: ${m}`, d),
    },
  );
  deps.log?.(`webhook ${raw}: ${out.statusCode}`);
  return c.json(out.body, out.statusCode as 200, { ...out.headers });
}

/** The target of a local upload URL: the grant's expiry, size and type checked, then written once. */
async function storeUpload(deps: AppDeps, c: Context<AppEnv>, token: string): Promise<Response> {
  const grant = readLocalGrant((await deps.partners.read()).signingKey, 'upload', token);
  if (!grant) throw refused('the upload URL is not valid: it was changed, or not made by this server');
  if (grant === 'expired') throw refused('the upload URL has expired; ask for a new one');
  const length = c.req.header('content-length');
  if (length === undefined)
    throw new HttpProblem(411, 'Length Required', 'send Content-Length (the size signed for)');
  if (Number(length) !== grant.size)
    throw refused(`Content-Length ${length} is not the ${grant.size} bytes this URL was signed for`);
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== grant.type)
    throw refused(`Content-Type "${type}" is not the "${grant.type}" this URL was signed for`);
  const body = c.req.raw.body;
  if (!body) throw new HttpProblem(400, 'Bad Request', 'the upload has no body');
  try {
    // Written under a temporary name and linked into place: the ingress watcher sees it whole or not at all.
    await deps.store.put('ingress', grant.key, exactly(body, grant.size!), { contentType: grant.type });
  } catch (e) {
    if (e instanceof ObjectExistsError)
      throw new HttpProblem(409, 'Conflict', 'this upload URL was used already');
    throw e;
  }
  deps.log?.(`upload stored: ingress/${grant.key} (${grant.size} bytes)`);
  return c.body(null, 200);
}

/** The target of a local download URL: one published file, until the URL expires. */
async function serveDownload(deps: AppDeps, c: Context<AppEnv>, token: string): Promise<Response> {
  const grant = readLocalGrant((await deps.partners.read()).signingKey, 'download', token);
  if (!grant) throw refused('the download URL is not valid: it was changed, or not made by this server');
  if (grant === 'expired') throw refused('the download URL has expired; ask for a new one');
  const stream = await deps.store.get('egress', grant.key);
  const name = grant.key.split('/').pop()!;
  return c.body(Readable.toWeb(stream) as ReadableStream, 200, {
    'content-type': name.endsWith('.fgb') ? 'application/flatgeobuf' : contentTypeOf(name),
    'content-disposition': `attachment; filename="${name}"`,
  });
}

/**
 * What `strata serve` answers besides the partner API: signed webhooks (as the webhook function does on
 * AWS), the operators' reads of the database it holds, and the targets of its own signed upload and
 * download URLs, which stand in for S3's presigned ones.
 */
export function localRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps, local: LocalRoutes): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/webhooks/{hook}',
      tags,
      ...LOCAL,
      summary: 'A GitHub-style signed webhook (X-Hub-Signature-256) builds the product it names',
      request: {
        // Any text: what is not a hook is told by its signature (401), never by a pattern that would say
        // which names exist.
        params: z.object({ hook: z.string().openapi({ param: { name: 'hook', in: 'path' } }) }),
        headers: z.object({
          'x-hub-signature-256': z.string().optional(),
          'x-github-delivery': z.string().optional(),
        }),
      },
      responses: WEBHOOK_ANSWERS,
    }),
    async (c) => (await receiveWebhook(deps, local, c, c.req.valid('header'))) as never,
  );
  app.openapi(
    guardedBy(authenticateOperator(deps))({
      method: 'get',
      path: '/_local/datasets/{name}/versions',
      tags,
      ...LOCAL,
      summary:
        "A dataset's registered versions as the database this process holds has them: what `strata versions` reads while `strata serve` holds the embedded database",
      request: { params: z.object({ name: NameParam.openapi({ param: { name: 'name', in: 'path' } }) }) },
      responses: {
        200: {
          description: 'versions, newest first',
          content: { 'application/json': { schema: z.array(z.record(z.string(), z.unknown())) } },
        },
        ...S.problems(401, 403),
      },
    }),
    async (c) => {
      if (!local.datasetVersions) throw refused('this server holds no database to ask');
      const versions = await local.datasetVersions(c.req.valid('param').name);
      return c.json(versions as unknown as Record<string, unknown>[], 200) as never;
    },
  );
  fileRoutes(app, deps);
}

/** The server's health, and the targets of its own signed upload and download URLs. */
function fileRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/health',
      tags,
      ...LOCAL,
      summary: 'The server is up',
      responses: {
        200: {
          description: 'up',
          content: { 'application/json': { schema: z.object({ ok: z.boolean() }) } },
        },
      },
    }),
    (c) => c.json({ ok: true }, 200),
  );
  app.openapi(
    createRoute({
      method: 'put',
      path: '/_local/uploads/{token}',
      tags,
      ...LOCAL,
      summary:
        "The target of a local upload URL: checks expiry, size and type, writes into the partner's ingress prefix",
      request: { params: z.object({ token }) },
      responses: {
        200: { description: 'stored' },
        ...S.problems(400, 403, 409),
        411: { description: 'Content-Length is required' },
      },
    }),
    async (c) => (await storeUpload(deps, c, c.req.valid('param').token)) as never,
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/_local/downloads/{token}',
      tags,
      ...LOCAL,
      summary: 'The target of a local download URL: one published file, until the URL expires',
      request: { params: z.object({ token }) },
      responses: { 200: { description: 'the file' }, ...S.problems(403, 404) },
    }),
    async (c) => (await serveDownload(deps, c, c.req.valid('param').token)) as never,
  );
}
