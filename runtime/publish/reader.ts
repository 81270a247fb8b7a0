import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { NotFoundError } from '../errors.ts';
import { type Change, ChangeFeedHeader, type FeedSource, parseKeys } from '../features/changes.ts';
import { FlatGeobufFile } from '../features/flatgeobuf.ts';
import { changeFeedKeys, manifestKey } from '../layout/buckets.ts';
import { type ObjectStore, readText } from '../ports/object-store.ts';
import { type LatestPointer, Manifest, parsePublished } from './manifest.ts';
import { listProductVersions, readLatest, readManifestAt } from './versions.ts';

/**
 * Reads what is published in the egress bucket, for the partner API. Published objects never change, so
 * manifests and opened FlatGeobuf files (header, and the index's upper levels once a bbox is asked for)
 * are kept in memory; only `latest.json`, the one object that moves, is read every time.
 */
export class PublishedReader {
  private readonly manifests = new LRUCache<string, Manifest>({ max: 512 });
  private readonly files = new LRUCache<string, Promise<FlatGeobufFile>>({ max: 16 });
  private readonly feeds = new LRUCache<string, ChangeFeedHeader>({ max: 1024 });
  private readonly feedKeys = new LRUCache<string, Promise<Map<string, Change>>>({ max: 256 });

  constructor(readonly store: ObjectStore) {}

  latest(product: string): Promise<LatestPointer | undefined> {
    return readLatest(this.store, product);
  }

  versions(product: string) {
    return listProductVersions(this.store, product, (key) => this.manifestAt(key));
  }

  /** A version's manifest; `latest` follows the pointer. NotFoundError names what is missing. */
  async manifest(product: string, version: string): Promise<Manifest> {
    const v = version === 'latest' ? (await this.latest(product))?.version : version;
    if (!v) throw new NotFoundError(`product "${product}" has no published version yet`);
    try {
      return await this.manifestAt(manifestKey(product, v));
    } catch (e) {
      if (e instanceof NotFoundError) throw new NotFoundError(`product "${product}" has no version "${v}"`);
      throw e;
    }
  }

  private async manifestAt(key: string): Promise<Manifest> {
    const cached = this.manifests.get(key);
    if (cached) return cached;
    const manifest = await readManifestAt(this.store, key);
    this.manifests.set(key, manifest);
    return manifest;
  }

  /**
   * An output's change feeds, read from the egress bucket by ranges: a header, once found, never changes,
   * and neither does a key list; a header not found is asked again next time.
   */
  changeFeeds(product: string, output: string): FeedSource {
    return {
      header: async (version) => {
        const key = changeFeedKeys(product, version, output).header;
        const cached = this.feeds.get(key);
        if (cached) return cached;
        if (!(await this.store.exists('egress', key))) return undefined;
        const parsed = ChangeFeedHeader.safeParse(JSON.parse(await readText(this.store, 'egress', key)));
        if (!parsed.success) return undefined;
        this.feeds.set(key, parsed.data);
        return parsed.data;
      },
      keys: (feed) => {
        let keys = this.feedKeys.get(feed.keys.key);
        if (!keys) {
          keys = readText(this.store, 'egress', feed.keys.key).then(parseKeys);
          keys.catch(() => this.feedKeys.delete(feed.keys.key));
          this.feedKeys.set(feed.keys.key, keys);
        }
        return keys;
      },
      range: (feed, start, end) => this.store.getRange('egress', feed.lines.key, start, end),
    };
  }

  /** A published FlatGeobuf file, opened (its header read) once and read by ranges after. */
  flatgeobuf(key: string, size: number): Promise<FlatGeobufFile> {
    let file = this.files.get(key);
    if (!file) {
      file = FlatGeobufFile.open((start, end) => this.store.getRange('egress', key, start, end), size);
      // A failed open is not kept: the next request tries again.
      file.catch(() => this.files.delete(key));
      this.files.set(key, file);
    }
    return file;
  }
}

/** One published version read exactly: its manifest, and the sha256 of the manifest's bytes as published. */
export interface PublishedVersion {
  readonly manifest: Manifest;
  readonly key: string;
  readonly sha256: string;
}

/**
 * The published version `version` (or the one `latest` points at now) of a product, for a build that reads
 * it: NotFoundError when there is none. Read afresh, not cached: a lock is made once per build.
 */
export async function readPublishedVersion(
  store: ObjectStore,
  product: string,
  version: string,
): Promise<PublishedVersion> {
  const v = version === 'latest' ? (await readLatest(store, product))?.version : version;
  if (!v) throw new NotFoundError(`product "${product}" has published no version yet`);
  const key = manifestKey(product, v);
  if (!(await store.exists('egress', key)))
    throw new NotFoundError(`product "${product}" has no version "${v}"`);
  const text = await readText(store, 'egress', key);
  const manifest = parsePublished(Manifest, JSON.parse(text), key);
  return { manifest, key, sha256: createHash('sha256').update(text).digest('hex') };
}
