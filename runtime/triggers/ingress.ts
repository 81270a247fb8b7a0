import { type Catalog, problemsOf } from '../catalog-files/loader.ts';
import { submitOnce } from '../jobs/submit.ts';
import { parseIngressKey } from '../layout/buckets.ts';
import { takesUploadsFrom } from '../partners/uploads.ts';
import type { JobQueue } from '../ports/job-queue.ts';
import type { RunRegistry } from '../runs/registry.ts';

/**
 * Names that say "still being written": the temporary name of the write-then-rename protocol (`.part`,
 * `.tmp`) and dot files (what rsync, curl -o and most editors write to first). The local ingress watcher
 * never takes them, so the partner API refuses to sign an upload under one.
 */
export function isInProgressName(name: string): boolean {
  return name.startsWith('.') || /\.(part|tmp)$/i.test(name);
}

export interface ObjectCreated {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
  readonly versionId?: string;
}

export type IngressOutcome =
  | { readonly status: 'queued'; readonly runId: string; readonly dataset: string }
  | { readonly status: 'duplicate'; readonly runId: string; readonly dataset: string }
  | { readonly status: 'rejected'; readonly reason: string };

/**
 * An object landed in the ingress bucket: check it is for a known dataset that takes uploads (from that
 * partner, for a partner key) and within the size limit, record a queued ingest run once per object version,
 * and send its job. A duplicate event finds the run the first one made; if that run is still waiting, its job
 * is sent again (jobs are idempotent by run id), so a send lost after the run was recorded is not stuck.
 */
export async function onObjectCreated(
  object: ObjectCreated,
  deps: { catalog: Catalog; runs: RunRegistry; queue: JobQueue; maxBytes: number },
): Promise<IngressOutcome> {
  const target = parseIngressKey(object.key);
  if ('rejected' in target) return { status: 'rejected', reason: `${object.key}: ${target.rejected}` };
  const dataset = deps.catalog.datasets.get(target.dataset);
  if (!dataset)
    return {
      status: 'rejected',
      reason: `${object.key}: ${problemsOf(deps.catalog, 'dataset', target.dataset) ?? `dataset "${target.dataset}" is not in the catalog`}`,
    };
  const source = dataset.source;
  if (target.partner && !takesUploadsFrom(dataset, target.partner))
    return {
      status: 'rejected',
      reason: `${object.key}: dataset "${dataset.name}" takes no uploads from partner "${target.partner}"`,
    };
  if (!target.partner && source.kind !== 'upload')
    return {
      status: 'rejected',
      reason: `${object.key}: dataset "${dataset.name}" is fed by ${source.kind}, not by uploads`,
    };
  const limit = Math.min(deps.maxBytes, dataset.maxBytes ?? Number.POSITIVE_INFINITY);
  if (object.size > limit)
    return {
      status: 'rejected',
      reason: `${object.key}: ${object.size} bytes is over the limit of ${limit}`,
    };
  if (object.size === 0) return { status: 'rejected', reason: `${object.key}: the object is empty` };

  const dedupe = `s3://${object.bucket}/${object.key}@${object.versionId ?? object.etag ?? object.size}`;
  const { run, created } = await submitOnce(
    deps,
    {
      kind: 'ingest',
      dataset: dataset.name,
      // The task reads exactly this version of the object, and exactly this many bytes of it.
      source: {
        bucket: 'ingress',
        key: object.key,
        size: object.size,
        ...(object.versionId ? { versionId: object.versionId } : {}),
      },
      filename: target.filename,
    },
    {
      kind: 'upload',
      ...(target.partner ? { by: target.partner } : {}),
      detail: {
        bucket: object.bucket,
        key: object.key,
        size: object.size,
        etag: object.etag,
        ...(object.versionId ? { versionId: object.versionId } : {}),
      },
    },
    dedupe,
  );
  return { status: created ? 'queued' : 'duplicate', runId: run.id, dataset: dataset.name };
}
