import { createHash } from 'node:crypto';
import { directDependents, downstreamOf, type NodeRef, upstreamOf } from '../catalog/graph.ts';
import type { ProductEntry } from '../catalog/schema.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import { BuildError } from '../errors.ts';
import type { Queryable } from '../ports/database.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { type LockedInput, lockedName } from '../publish/manifest.ts';
import { newestVersion } from '../publish/registry.ts';
import { RunRegistry } from '../runs/registry.ts';
import { planBuild } from './plan.ts';

/** A product's newest published version and the inputs it read (its run's lineage). */
export interface PublishedLock {
  readonly version: string;
  readonly runId: string;
  readonly inputs: readonly LockedInput[];
}

export async function publishedLock(db: Queryable, product: string): Promise<PublishedLock | undefined> {
  const newest = await newestVersion(db, product);
  if (!newest) return undefined;
  // Every published version's run exists (product_versions references it): its lineage is the lock.
  const lineage = (await new RunRegistry(db).get(newest.runId)).lineage as {
    inputs?: PublishedLock['inputs'];
  } | null;
  return { version: newest.version, runId: newest.runId, inputs: lineage?.inputs ?? [] };
}

const lockText = (lock: readonly LockedInput[]): string =>
  lock
    .map((i) => `${i.alias}=${lockedName(i)}`)
    .sort()
    .join('\n');

/** Whether two locks read exactly the same versions under the same names. */
export function sameInputs(a: readonly LockedInput[], b: readonly LockedInput[]): boolean {
  return lockText(a) === lockText(b);
}

/** A short, stable name for a lock: which versions, under which names. */
export function lockFingerprint(lock: readonly LockedInput[]): string {
  return createHash('sha256').update(lockText(lock)).digest('hex').slice(0, 16);
}

/** How a product stands against what it reads now. */
export type Freshness =
  | { readonly state: 'fresh'; readonly lock: LockedInput[]; readonly published: PublishedLock }
  | { readonly state: 'stale'; readonly lock: LockedInput[]; readonly published: PublishedLock | undefined }
  /** A build could not lock its inputs now (one has no version yet): `reason` says which. */
  | { readonly state: 'blocked'; readonly reason: string; readonly published: PublishedLock | undefined };

/** Whether the product's newest published version read exactly what a build would read now. */
export async function freshnessOf(
  db: Queryable,
  entry: ProductEntry,
  store?: ObjectStore,
): Promise<Freshness> {
  const published = await publishedLock(db, entry.product.name);
  let lock: LockedInput[];
  try {
    lock = await planBuild(db, entry, store);
  } catch (e) {
    if (e instanceof BuildError) return { state: 'blocked', reason: e.message, published };
    throw e;
  }
  if (published && sameInputs(lock, published.inputs)) return { state: 'fresh', lock, published };
  return { state: 'stale', lock, published };
}

export interface StaleProduct {
  readonly entry: ProductEntry;
  /** What a build would read now. */
  readonly lock: LockedInput[];
  /** What the newest published version read; undefined when nothing is published yet. */
  readonly published: PublishedLock | undefined;
}

/** Whether a build of `product` waits in the queue or runs now. */
async function buildPending(runs: RunRegistry, product: string): Promise<boolean> {
  for (const status of ['queued', 'running'] as const)
    if ((await runs.list({ kind: 'build', target: product, status, limit: 1 })).length > 0) return true;
  return false;
}

/**
 * The products to build now because `changed` (a dataset's new version, a product's new published version)
 * moved: those that read it at `latest` and whose newest published version did not read what a build would
 * read now (or that have none), in build order. Keyed on what each product has seen, not on "a new version
 * was made", so a retried ingest still rebuilds them and bytes already built from rebuild nothing. Left for
 * later, each built once however many paths lead to it (a diamond):
 * - a product that also reads, through others, a product this change makes stale (and that can be built):
 *   the last of those to publish queues it;
 * - a product reading another whose build is queued or running: that build queues it when it publishes.
 * A product whose other inputs have no version yet is left alone: its build could only fail.
 */
export async function staleDependents(
  db: Queryable,
  catalog: Catalog,
  changed: NodeRef,
  store?: ObjectStore,
): Promise<StaleProduct[]> {
  const runs = new RunRegistry(db);
  const downstream = downstreamOf(catalog.products, changed, true);
  // What this change will rebuild further down: not a product that cannot lock its inputs (it would never
  // publish, and what waits for it would wait for good).
  const affected = new Set<string>();
  for (const name of downstream)
    if ((await freshnessOf(db, catalog.products.get(name)!, store)).state !== 'blocked') affected.add(name);
  const direct = directDependents(catalog.products, changed, true);
  const out: StaleProduct[] = [];
  for (const name of downstream) {
    if (!direct.includes(name)) continue;
    const upstream = upstreamOf(catalog.products, name);
    if (upstream.some((u) => affected.has(u))) continue;
    let waits = false;
    for (const u of upstream) if (!waits && (await buildPending(runs, u))) waits = true;
    if (waits) continue;
    const entry = catalog.products.get(name)!;
    const f = await freshnessOf(db, entry, store);
    if (f.state === 'stale') out.push({ entry, lock: f.lock, published: f.published });
  }
  return out;
}
