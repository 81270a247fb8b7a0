import { createHash } from 'node:crypto';
import type { Catalog } from '../catalog-files/loader.ts';
import { announcePublished, type FederationRecord } from '../federation/announce.ts';
import { latestKey, manifestKey as manifestKeyOf } from '../layout/buckets.ts';
import type { Platform } from '../platform/platform.ts';
import { readJson } from '../ports/object-store.ts';
import { LatestPointer, type Manifest, manifestJson } from './manifest.ts';
import { type Notified, notifyPublished } from './notify.ts';
import { recordPublished, registerVersion, unregisterVersion } from './registry.ts';

export interface Publication {
  readonly manifestKey: string;
  readonly pointer: LatestPointer;
  /** What became of the summary sent to the core: federation never fails a publish. */
  readonly federation: FederationRecord;
  /** What became of the notifications to subscribed partners: they never fail a publish either. */
  readonly notified: Notified | { readonly error: string };
}

/** The version `latest` points at now, before it moves: what a notification calls the previous version. */
async function currentLatest(p: Platform, product: string): Promise<string | null> {
  if (!(await p.store.exists('egress', latestKey(product)))) return null;
  const pointer = LatestPointer.safeParse(await readJson(p.store, 'egress', latestKey(product)));
  return pointer.success ? pointer.data.version : null;
}

/**
 * Publishes a built version whose outputs and QA report are already in place under its own prefix: registers
 * it, writes its manifest, moves `latest` to it, and tells the core. Moving `latest` is the commit point:
 * a failure before it throws and leaves `latest` where it was (and takes back a registration whose manifest
 * could not be written); nothing after it may fail the publish.
 */
export async function publishVersion(
  p: Platform,
  catalog: Catalog,
  manifest: Manifest,
): Promise<Publication> {
  const { product, version, runId } = manifest;
  const manifestKey = manifestKeyOf(product, version);
  const bytes = manifestJson(manifest);
  const publishedAt = new Date().toISOString();
  // Registered before its manifest makes it a version: if the database is gone now, nothing is visible;
  // if the manifest cannot be written, the registration is taken back.
  await registerVersion(p.db, { product, version, runId, manifestKey, publishedAt });
  try {
    await p.store.put('egress', manifestKey, bytes, { contentType: 'application/json' });
  } catch (e) {
    await unregisterVersion(p.db, product, version);
    throw e;
  }
  // The registration in the archive too, before `latest` moves, so a rebuilt database knows the run.
  const run = await p.runs.get(runId);
  await recordPublished(p.store, {
    product,
    version,
    runId,
    manifestKey,
    publishedAt,
    run: {
      trigger: run.trigger,
      createdAt: run.createdAt,
      startedAt: run.startedAt,
      attempts: run.attempts,
      catalogSha256: run.catalogSha256,
    },
  });
  const previous = await currentLatest(p, product);
  const pointer: LatestPointer = { product, version, manifest: manifestKey, publishedAt };
  await p.store.put('egress', latestKey(product), `${JSON.stringify(pointer, null, 2)}\n`, {
    contentType: 'application/json',
    replace: true,
  });
  // Committed.
  const federation = await announcePublished(
    p,
    catalog,
    { key: manifestKey, sha256: createHash('sha256').update(bytes).digest('hex'), manifest },
    new Date(pointer.publishedAt),
  );
  const notified = await notifyPublished(
    p,
    manifest,
    previous === version ? null : previous,
    publishedAt,
  ).catch((e: unknown) => ({ error: (e as Error).message }));
  return { manifestKey, pointer, federation, notified };
}
