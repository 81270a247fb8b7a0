import { createHash } from 'node:crypto';
import type { ProductEntry } from '../catalog/schema.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import { BuildError } from '../errors.ts';
import type { Queryable } from '../ports/database.ts';
import type { LockedInput } from '../publish/manifest.ts';
import { newestVersion } from '../publish/registry.ts';
import { RunRegistry } from '../runs/registry.ts';
import { planBuild } from './plan.ts';

/** A product's newest published version and the inputs it read (its run's lineage). */
export interface PublishedLock {
  readonly version: string;
  readonly runId: string;
  readonly inputs: readonly Pick<LockedInput, 'alias' | 'dataset' | 'version'>[];
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

/** Whether two locks read exactly the same dataset versions under the same names. */
export function sameInputs(
  a: readonly Pick<LockedInput, 'alias' | 'dataset' | 'version'>[],
  b: readonly Pick<LockedInput, 'alias' | 'dataset' | 'version'>[],
): boolean {
  const key = (l: typeof a) =>
    l
      .map((i) => `${i.alias}=${i.dataset}@${i.version}`)
      .sort()
      .join('\n');
  return key(a) === key(b);
}

/** A short, stable name for a lock: which versions, under which names. */
export function lockFingerprint(lock: readonly Pick<LockedInput, 'alias' | 'dataset' | 'version'>[]): string {
  const text = lock
    .map((i) => `${i.alias}=${i.dataset}@${i.version}`)
    .sort()
    .join('\n');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export interface StaleProduct {
  readonly entry: ProductEntry;
  /** What a build would read now. */
  readonly lock: LockedInput[];
  /** What the newest published version read; undefined when nothing is published yet. */
  readonly published: PublishedLock | undefined;
}

/**
 * The products that read `dataset` at `latest` and whose newest published version did not read what a build
 * would read now (or that have none): the ones worth rebuilding. Keyed on what each product has seen, not on
 * "a new version was made", so an ingest retried after its version was made still rebuilds them, and an
 * ingest of bytes already archived (and already built from) rebuilds nothing. A product whose other inputs
 * have no loaded version yet is left alone: its build could only fail.
 */
export async function staleDependents(
  db: Queryable,
  catalog: Catalog,
  dataset: string,
): Promise<StaleProduct[]> {
  const out: StaleProduct[] = [];
  for (const entry of catalog.products.values()) {
    const reads = Object.values(entry.product.inputs).some(
      (i) => i.dataset === dataset && i.version === 'latest',
    );
    if (!reads) continue;
    let lock: LockedInput[];
    try {
      lock = await planBuild(db, entry);
    } catch (e) {
      if (e instanceof BuildError) continue;
      throw e;
    }
    const published = await publishedLock(db, entry.product.name);
    if (published && sameInputs(lock, published.inputs)) continue;
    out.push({ entry, lock, published });
  }
  return out;
}
