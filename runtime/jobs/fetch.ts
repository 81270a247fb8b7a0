import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Catalog } from '../catalog-files/loader.ts';
import { LoadError } from '../errors.ts';
import type { Platform } from '../platform/platform.ts';
import type { JobHooks } from '../runs/steps.ts';
import { requireDataset, runIngest } from './ingest.ts';

/** What the last fetch of a source was told, for a conditional GET. */
async function lastValidators(
  p: Platform,
  dataset: string,
): Promise<{ etag?: string; lastModified?: string }> {
  const rows = await p.db.query<{ origin: { etag?: string; lastModified?: string } | string }>(
    `SELECT origin FROM strata.dataset_versions WHERE dataset = $1 AND origin->>'kind' = 'http' ORDER BY version DESC LIMIT 1`,
    [dataset],
  );
  const origin = rows[0]?.origin;
  return typeof origin === 'string' ? JSON.parse(origin) : (origin ?? {});
}

/**
 * Fetches a dataset's HTTP source; only new content becomes a version. A conditional GET (ETag,
 * Last-Modified) answered 304 makes no version; a 200 is streamed to disk within the catalog's size limit
 * and timeout, checked against Content-Length, then ingested like an upload (so the same bytes under a new
 * ETag still make no second version). A partial or failed download fails the run and archives nothing.
 */
export async function runFetch(
  p: Platform,
  catalog: Catalog,
  datasetName: string,
  hooks: JobHooks = {},
  fetchImpl: typeof fetch = fetch,
  runId?: string,
): Promise<{ result: Record<string, unknown>; lineage: Record<string, unknown> }> {
  const dataset = requireDataset(catalog, datasetName);
  const source = dataset.source;
  if (source.kind !== 'http')
    throw new LoadError({
      file: datasetName,
      reason: `dataset "${datasetName}" has no HTTP source to fetch`,
    });
  const url = source.url;
  const previous = await lastValidators(p, dataset.name);
  const headers: Record<string, string> = {};
  if (previous.etag) headers['If-None-Match'] = previous.etag;
  if (previous.lastModified) headers['If-Modified-Since'] = previous.lastModified;

  hooks.onStep?.({ name: 'fetch', status: 'start' });
  const t = Date.now();
  const signal = AbortSignal.timeout(source.timeoutSeconds * 1000);
  let res: Response;
  try {
    res = await fetchImpl(url, { headers, signal, redirect: 'follow' });
  } catch (e) {
    throw new LoadError({ file: url, reason: `the request failed: ${(e as Error).message}` });
  }
  if (res.status === 304) {
    hooks.onStep?.({
      name: 'fetch',
      status: 'done',
      ms: Date.now() - t,
      detail: 'not modified: no new version',
    });
    return {
      result: { dataset: dataset.name, url, notModified: true },
      lineage: { dataset: dataset.name, url },
    };
  }
  if (!res.ok || !res.body)
    throw new LoadError({ file: url, reason: `the server answered ${res.status} ${res.statusText}` });
  const declared = res.headers.get('content-length');
  if (declared !== null && Number(declared) > source.maxBytes)
    throw new LoadError({
      file: url,
      reason: `the source is ${declared} bytes, over the limit of ${source.maxBytes}`,
    });

  const dir = await mkdtemp(join(tmpdir(), 'strata-fetch-'));
  try {
    const filename = decodeURIComponent(
      new URL(url).pathname.split('/').pop() || `${dataset.name}.${dataset.format}`,
    );
    const path = join(dir, filename);
    let received = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _e, done) {
        received += chunk.length;
        if (received > source.maxBytes)
          done(new Error(`the download passed the limit of ${source.maxBytes} bytes`));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
        limit,
        createWriteStream(path),
      );
    } catch (e) {
      throw new LoadError({
        file: url,
        reason: `the download failed after ${received} bytes: ${(e as Error).message}`,
      });
    }
    if (declared !== null && received !== Number(declared))
      throw new LoadError({ file: url, reason: `the download is partial: ${received} of ${declared} bytes` });
    hooks.onStep?.({ name: 'fetch', status: 'done', ms: Date.now() - t, detail: `${received} bytes` });
    const origin = {
      kind: 'http' as const,
      from: url,
      ...(res.headers.get('etag') ? { etag: res.headers.get('etag') } : {}),
      ...(res.headers.get('last-modified') ? { lastModified: res.headers.get('last-modified') } : {}),
    };
    return await runIngest(p, catalog, { dataset: dataset.name, path, filename, origin, runId }, hooks);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
