import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { lastHttpOrigin, type Origin } from '../archive/archive.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import { LoadError } from '../errors.ts';
import type { Platform } from '../platform/platform.ts';
import { type JobHooks, step } from '../runs/steps.ts';
import { requireDataset, runIngest } from './ingest.ts';

type HttpSource = { url: string; maxBytes: number; timeoutSeconds: number };

/** A 200's body, on disk, checked whole. */
interface Downloaded {
  readonly path: string;
  readonly filename: string;
  readonly bytes: number;
  readonly origin: Origin;
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
  const previous = await lastHttpOrigin(p.db, dataset.name);
  const dir = await mkdtemp(join(tmpdir(), 'strata-fetch-'));
  try {
    const fallback = `${dataset.name}.${dataset.format}`;
    const got = await step(
      hooks,
      'fetch',
      () => download(source, previous, { dir, fallback }, fetchImpl),
      (d) => (d ? `${d.bytes} bytes` : 'not modified: no new version'),
    );
    if (!got)
      return {
        result: { dataset: dataset.name, url, notModified: true },
        lineage: { dataset: dataset.name, url },
      };
    const { path, filename, origin } = got;
    return await runIngest(p, catalog, { dataset: dataset.name, path, filename, origin, runId }, hooks);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** GETs the source, conditional on what the last fetch was told; undefined when it has not changed (304). */
async function download(
  source: HttpSource,
  previous: { etag?: string; lastModified?: string },
  to: { dir: string; fallback: string },
  fetchImpl: typeof fetch,
): Promise<Downloaded | undefined> {
  const url = source.url;
  const headers: Record<string, string> = {};
  if (previous.etag) headers['If-None-Match'] = previous.etag;
  if (previous.lastModified) headers['If-Modified-Since'] = previous.lastModified;
  const signal = AbortSignal.timeout(source.timeoutSeconds * 1000);
  let res: Response;
  try {
    res = await fetchImpl(url, { headers, signal, redirect: 'follow' });
  } catch (e) {
    throw new LoadError({ file: url, reason: `the request failed: ${(e as Error).message}` });
  }
  if (res.status === 304) return undefined;
  if (!res.ok || !res.body)
    throw new LoadError({ file: url, reason: `the server answered ${res.status} ${res.statusText}` });
  const declared = res.headers.get('content-length');
  if (declared !== null && Number(declared) > source.maxBytes)
    throw new LoadError({
      file: url,
      reason: `the source is ${declared} bytes, over the limit of ${source.maxBytes}`,
    });
  const filename = decodeURIComponent(new URL(url).pathname.split('/').pop() || to.fallback);
  const path = join(to.dir, filename);
  const bytes = await saveWithin(res.body, path, source);
  if (declared !== null && bytes !== Number(declared))
    throw new LoadError({ file: url, reason: `the download is partial: ${bytes} of ${declared} bytes` });
  const etag = res.headers.get('etag');
  const lastModified = res.headers.get('last-modified');
  return {
    path,
    filename,
    bytes,
    origin: { kind: 'http', from: url, ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) },
  };
}

/** Streams a body to `path`, failing as soon as it passes the source's limit; returns the bytes written. */
async function saveWithin(
  body: ReadableStream<Uint8Array>,
  path: string,
  source: HttpSource,
): Promise<number> {
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
      Readable.fromWeb(body as import('node:stream/web').ReadableStream),
      limit,
      createWriteStream(path),
    );
  } catch (e) {
    throw new LoadError({
      file: source.url,
      reason: `the download failed after ${received} bytes: ${(e as Error).message}`,
    });
  }
  return received;
}
