import { listVersions, registeredDatasets } from '../archive/archive.ts';
import { history } from '../archive/current.ts';
import { listQuarantine } from '../archive/quarantine.ts';
import {
  DATASETS,
  datasetOfKey,
  eventIdOf,
  isEventKey,
  isManifestKey,
  isQuarantineReleaseKey,
  METADATA,
  NOT_VERSIONS,
  PRODUCTS,
  productOfKey,
  QUARANTINE,
  quarantineEntryOf,
  quarantineReleaseKey,
  versionFolderOf,
} from '../layout/buckets.ts';
import type { Queryable } from '../ports/database.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { countRegisteredVersions, registeredVersions } from '../publish/registry.ts';
import type { RunRegistry } from '../runs/registry.ts';

/**
 * What the buckets hold, from three listings and no object read: every dataset's complete versions, the
 * moves of its current version, its files in quarantine (and which are released), the folders of ingests
 * that never finished; every product's published versions. And what of it a database does not know yet.
 */

export interface DatasetRecord {
  readonly dataset: string;
  /** Versions with their `metadata.json`. */
  readonly versions: string[];
  /** Ids of the moves of its current version. */
  readonly events: string[];
  /** Files in quarantine, by id, and whether each was released. */
  readonly quarantine: Map<string, boolean>;
  /** Version folders without `metadata.json` that are not in quarantine: ingests that never finished. */
  readonly unfinished: string[];
}

export interface BucketRecord {
  readonly datasets: DatasetRecord[];
  /** Each product's published versions (those with a manifest). */
  readonly products: Map<string, string[]>;
}

function datasetRecord(map: Map<string, DatasetRecord>, dataset: string): DatasetRecord {
  const found = map.get(dataset);
  if (found) return found;
  const made = { dataset, versions: [], events: [], quarantine: new Map(), unfinished: [] };
  map.set(dataset, made);
  return made;
}

/** The archive's `datasets/` and `quarantine/` folders, dataset by dataset. */
async function readDatasets(store: ObjectStore): Promise<DatasetRecord[]> {
  const map = new Map<string, DatasetRecord>();
  const folders = new Map<string, Set<string>>();
  for (const { key } of await store.list('archive', DATASETS)) {
    const dataset = datasetOfKey(key);
    if (!dataset) continue;
    const record = datasetRecord(map, dataset);
    if (isEventKey(dataset, key)) record.events.push(eventIdOf(dataset, key)!);
    const at = versionFolderOf(dataset, key);
    if (!at || NOT_VERSIONS.has(at.version)) continue;
    const files = folders.get(`${dataset}/${at.version}`) ?? new Set();
    folders.set(`${dataset}/${at.version}`, files.add(at.file));
  }
  const quarantine = (await store.list('archive', QUARANTINE)).map((o) => o.key);
  const released = new Set(quarantine.filter(isQuarantineReleaseKey));
  for (const key of quarantine) {
    const entry = quarantineEntryOf(key);
    if (!entry) continue;
    const release = quarantineReleaseKey(entry.dataset, entry.id);
    datasetRecord(map, entry.dataset).quarantine.set(entry.id, released.has(release));
  }
  for (const [folder, files] of folders) {
    const [dataset, version] = folder.split('/') as [string, string];
    const record = datasetRecord(map, dataset);
    if (files.has(METADATA)) record.versions.push(version);
    else if (!record.quarantine.has(version)) record.unfinished.push(version);
  }
  return [...map.values()].sort((a, b) => a.dataset.localeCompare(b.dataset));
}

async function readProducts(store: ObjectStore): Promise<Map<string, string[]>> {
  const products = new Map<string, string[]>();
  for (const { key } of await store.list('egress', PRODUCTS)) {
    const product = productOfKey(key);
    if (!product || !isManifestKey(product, key)) continue;
    const version = key.slice(`${PRODUCTS}${product}/`.length).split('/')[0]!;
    products.set(product, [...(products.get(product) ?? []), version]);
  }
  return products;
}

export async function readBucketRecord(store: ObjectStore): Promise<BucketRecord> {
  const [datasets, products] = await Promise.all([readDatasets(store), readProducts(store)]);
  return { datasets, products };
}

/** What the buckets hold that the database does not know, counted (and named, a few of each). */
export interface Behind {
  readonly versions: string[];
  readonly events: string[];
  readonly quarantined: string[];
  readonly releases: string[];
  readonly productVersions: string[];
}

export const nothingBehind = (b: Behind) =>
  b.versions.length +
    b.events.length +
    b.quarantined.length +
    b.releases.length +
    b.productVersions.length ===
  0;

async function datasetBehind(db: Queryable, r: DatasetRecord, into: Behind): Promise<void> {
  const known = new Set((await listVersions(db, r.dataset)).map((v) => v.version));
  for (const v of r.versions) if (!known.has(v)) into.versions.push(`${r.dataset}@${v}`);
  const moves = new Set((await history(db, r.dataset)).map((e) => e.id));
  for (const e of r.events) if (!moves.has(e)) into.events.push(`${r.dataset}/${e}`);
  const entries = new Map(
    (await listQuarantine(db, { dataset: r.dataset })).map((q) => [q.id, q.release !== undefined]),
  );
  for (const [id, released] of r.quarantine) {
    if (!entries.has(id)) into.quarantined.push(`${r.dataset}/${id}`);
    if (released && !entries.get(id)) into.releases.push(`${r.dataset}/${id}`);
  }
}

/** What a rebuild would add to this database. */
export async function behind(db: Queryable, record: BucketRecord): Promise<Behind> {
  const into: Behind = { versions: [], events: [], quarantined: [], releases: [], productVersions: [] };
  for (const r of record.datasets) await datasetBehind(db, r, into);
  for (const [product, versions] of record.products) {
    const known = await registeredVersions(db, product);
    for (const v of versions) if (!known.has(v)) into.productVersions.push(`${product}@${v}`);
  }
  return into;
}

/** Whether the database holds nothing of the platform's yet: no dataset or product version, run or quarantine. */
export async function isEmpty(db: Queryable, runs: RunRegistry): Promise<boolean> {
  return (
    (await registeredDatasets(db)).length === 0 &&
    (await countRegisteredVersions(db)) === 0 &&
    (await runs.counts()).runs === 0 &&
    (await listQuarantine(db)).length === 0
  );
}
