import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { safeFilename } from '../archive/archive.ts';
import type { Dataset } from '../catalog/schema.ts';
import { uploadKey } from '../layout/buckets.ts';
import { takesUploadsFrom, UPLOAD_CONTENT_TYPES } from '../partners/uploads.ts';
import type { Run } from '../runs/schema.ts';
import { isInProgressName } from '../triggers/ingress.ts';
import type { AppDeps, AppEnv, Principal } from './context.ts';
import { link } from './door.ts';
import { badRequest, forbidden, HttpProblem, notFound } from './problem.ts';
import { forbiddenFor } from './published.ts';

/**
 * A presigned upload, as the partner API and the portal both give one: the dataset must take the partner's
 * uploads (scopes, then source), the file's name, size and type must suit it, and the URL lands the file in
 * the partner's own prefix of the ingress bucket, whatever it asks for.
 */

/** An upload's id: `u` and 12 hex digits, then the file's safe name. */
export const UPLOAD_ID_PATTERN = /^u[0-9a-f]{12}-[\w.-]{1,120}$/;

/** What a client asks to send (the partner API's `UploadRequest`). */
export interface UploadRequest {
  readonly filename: string;
  readonly size: number;
  readonly contentType?: string;
}

/** The dataset a partner may upload to, or the reason it may not (403, 404). */
export function uploadableDataset(deps: AppDeps, p: Principal, name: string): Dataset {
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
export async function newUpload(deps: AppDeps, c: Context<AppEnv>, name: string, body: UploadRequest) {
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

/** The ingest of one of the partner's own uploads (the key holds the partner's id: no other's is found). */
export async function uploadRun(
  deps: AppDeps,
  p: Principal,
  name: string,
  uploadId: string,
): Promise<Run | undefined> {
  if (!p.scopes.allows('upload', 'datasets', name)) forbiddenFor('upload to', 'datasets', name);
  return deps.runs.findByUploadKey(uploadKey(p.partner, name, uploadId));
}

/** The partner's own recent uploads to a dataset, newest first, each with its ingest. */
export async function pastUploads(deps: AppDeps, p: Principal, name: string, limit = 20) {
  if (!p.scopes.allows('upload', 'datasets', name)) forbiddenFor('upload to', 'datasets', name);
  const prefix = uploadKey(p.partner, name, '');
  const runs = await deps.runs.findByUploadPrefix(prefix, limit);
  return runs.map((run) => ({ uploadId: String(run.trigger.detail?.key ?? '').slice(prefix.length), run }));
}
