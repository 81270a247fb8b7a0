import { NotFoundError } from '../errors.ts';
import { isManifestKey, latestKey, manifestKey, productPrefix } from '../layout/buckets.ts';
import { type ObjectStore, readJson } from '../ports/object-store.ts';
import { LatestPointer, Manifest, parsePublished } from './manifest.ts';

export interface ProductVersionSummary {
  readonly version: string;
  readonly builtAt: string;
  readonly runId: string;
  readonly outputs: number;
  readonly latest: boolean;
}

export async function readLatest(store: ObjectStore, product: string): Promise<LatestPointer | undefined> {
  if (!(await store.exists('egress', latestKey(product)))) return undefined;
  const key = latestKey(product);
  return parsePublished(LatestPointer, await readJson(store, 'egress', key), key);
}

/** The manifest at `key`, parsed: what a manifest is, is its schema's to say. */
export async function readManifestAt(store: ObjectStore, key: string): Promise<Manifest> {
  return parsePublished(Manifest, await readJson(store, 'egress', key), key);
}

/** Published versions: those with a manifest. Objects of a build that failed mid-way have none. */
export async function listProductVersions(
  store: ObjectStore,
  product: string,
  /** How a manifest is read (the partner API reads through its cache). */
  read: (key: string) => Promise<Manifest> = (key) => readManifestAt(store, key),
): Promise<ProductVersionSummary[]> {
  const latest = await readLatest(store, product);
  const objects = await store.list('egress', productPrefix(product));
  const manifests = objects.filter((o) => isManifestKey(product, o.key));
  const out = await Promise.all(
    manifests.map(async (m) => {
      const manifest = await read(m.key);
      return {
        version: manifest.version,
        builtAt: manifest.builtAt,
        runId: manifest.runId,
        outputs: manifest.outputs.length,
        latest: latest?.version === manifest.version,
      };
    }),
  );
  return out.sort((a, b) => (a.version < b.version ? 1 : -1));
}

export async function readManifest(store: ObjectStore, product: string, version?: string): Promise<Manifest> {
  const v = version && version !== 'latest' ? version : (await readLatest(store, product))?.version;
  if (!v) throw new NotFoundError(`product "${product}" has no published version yet`);
  const key = manifestKey(product, v);
  if (!(await store.exists('egress', key)))
    throw new NotFoundError(`product "${product}" has no version "${v}"`);
  return readManifestAt(store, key);
}
