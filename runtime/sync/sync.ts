import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { ApiError, type Auth, PartnerClient } from './client.ts';
import {
  type ChangeBatch,
  GeoPackageTarget,
  PostgisTarget,
  REMOVED_MARK,
  type SyncState,
  type SyncTarget,
} from './targets.ts';

/**
 * `strata sync`: keeps a partner's copy of a collection current. The first run takes a full copy from the
 * items of the version the collection is at (a pinned collection, so every page is of that version); every
 * later run asks for the changes since the version it reached and applies them in one transaction. A feed
 * that no longer reaches back (410) means a full copy again.
 */

export interface SyncOptions {
  readonly api: string;
  readonly collection: string;
  /** A `.gpkg` file, or a `postgres://` URL. */
  readonly into: string;
  /** The layer or table; default the collection's output name. */
  readonly table?: string;
  readonly auth: Auth;
  readonly pageSize?: number;
  readonly onProgress?: (p: SyncProgress) => void;
}

export interface SyncProgress {
  readonly phase: 'full copy' | 'changes' | 'writing';
  readonly features: number;
  readonly bytes: number;
}

export interface SyncResult {
  readonly collection: string;
  readonly target: string;
  /** `full`: a whole copy; `changes`: only what changed; `current`: nothing had changed. */
  readonly mode: 'full' | 'changes' | 'current';
  /** Why a full copy was taken when the target had a version. */
  readonly reason?: string;
  readonly from: string | null;
  readonly version: string;
  readonly features: number;
  readonly removed: number;
  readonly requests: number;
  readonly bytes: number;
  readonly ms: number;
}

interface Link {
  rel: string;
  href: string;
}
interface Feature {
  properties: Record<string, unknown> | null;
  geometry: unknown;
}
interface ItemsPage {
  features: Feature[];
  links: Link[];
}
interface ChangesPage extends ItemsPage {
  version: string;
  key: string[];
  removed: unknown[];
}

const nextOf = (links: readonly Link[]) => links.find((l) => l.rel === 'next')?.href;

/** Where to write: a PostGIS table for a postgres:// URL, else a GeoPackage file. */
export function targetFor(into: string, table: string): SyncTarget & { close?: () => Promise<void> } {
  if (/^postgres(ql)?:\/\//.test(into)) return new PostgisTarget(into, table);
  if (!into.endsWith('.gpkg'))
    throw new UsageError(`--into must be a .gpkg file or a postgres:// URL (got "${into}")`);
  return new GeoPackageTarget(into, table);
}

/** Writes lines to a GeoJSON sequence file, waiting when the file is behind. */
class Sequence {
  private readonly out;
  constructor(readonly file: string) {
    this.out = createWriteStream(file);
  }
  async write(value: unknown): Promise<void> {
    if (!this.out.write(`${JSON.stringify(value)}\n`)) await once(this.out, 'drain');
  }
  async close(): Promise<void> {
    this.out.end();
    await once(this.out, 'finish');
  }
}

/** The version the collection is at now, from its description's `describedby` link. */
async function currentVersion(client: PartnerClient, collection: string): Promise<string> {
  const c = await client.get<{ links: Link[] }>(`/collections/${collection}`);
  const href = c.links.find((l) => l.rel === 'describedby')?.href ?? '';
  const m = /\/versions\/([^/?#]+)$/.exec(href);
  if (!m) throw new Error(`collection "${collection}" names no version (its describedby link is "${href}")`);
  return decodeURIComponent(m[1]!);
}

async function fullCopy(
  client: PartnerClient,
  target: SyncTarget,
  o: SyncOptions,
  dir: string,
): Promise<{ state: SyncState; features: number }> {
  const version = await currentVersion(client, o.collection);
  const seq = new Sequence(join(dir, 'items.geojsonl'));
  let features = 0;
  try {
    for (
      let url: string | undefined =
        `/collections/${o.collection}.${version}/items?limit=${o.pageSize ?? 10_000}`;
      url;
    ) {
      const page: ItemsPage = await client.get<ItemsPage>(url);
      for (const f of page.features)
        await seq.write({ type: 'Feature', properties: f.properties, geometry: f.geometry });
      features += page.features.length;
      o.onProgress?.({ phase: 'full copy', features, bytes: client.traffic.bytes });
      url = nextOf(page.links);
    }
  } finally {
    await seq.close();
  }
  // The key, for the next run's changes: asked of the feed at the version copied (it has nothing to say).
  const key = await client
    .get<ChangesPage>(`/collections/${o.collection}/changes?since=${encodeURIComponent(version)}&limit=1`)
    .then((p) => p.key)
    .catch(() => [] as string[]);
  o.onProgress?.({ phase: 'writing', features, bytes: client.traffic.bytes });
  const state = { version, key };
  await target.replace(o.collection, seq.file, state);
  return { state, features };
}

/** Every page of changes since `since`, into one GeoJSON sequence: features, then removed keys marked. */
async function fetchChanges(client: PartnerClient, o: SyncOptions, since: string, dir: string) {
  const seq = new Sequence(join(dir, 'changes.geojsonl'));
  const columns = new Set<string>();
  let upserts = 0;
  let removed = 0;
  let version = since;
  let key: string[] = [];
  try {
    let url: string | undefined =
      `/collections/${o.collection}/changes?since=${encodeURIComponent(since)}&limit=${o.pageSize ?? 10_000}`;
    while (url) {
      const page: ChangesPage = await client.get<ChangesPage>(url);
      version = page.version;
      key = page.key;
      for (const f of page.features) {
        for (const c of Object.keys(f.properties ?? {})) columns.add(c);
        await seq.write({ type: 'Feature', properties: f.properties, geometry: f.geometry });
      }
      for (const k of page.removed) {
        const values = key.length === 1 ? [k] : (k as unknown[]);
        const properties = Object.fromEntries(key.map((name, i) => [name, values[i]]));
        await seq.write({
          type: 'Feature',
          properties: { ...properties, [REMOVED_MARK]: 1 },
          geometry: null,
        });
      }
      upserts += page.features.length;
      removed += page.removed.length;
      o.onProgress?.({ phase: 'changes', features: upserts + removed, bytes: client.traffic.bytes });
      url = nextOf(page.links);
    }
  } finally {
    await seq.close();
  }
  const batch: ChangeBatch = { file: seq.file, columns: [...columns], upserts, removed };
  return { batch, version, key };
}

/** One sync of one collection into one target. */
export async function sync(o: SyncOptions): Promise<SyncResult> {
  const started = Date.now();
  const client = new PartnerClient(o.api, o.auth);
  const table = o.table ?? o.collection.split('.')[1] ?? o.collection;
  const target = targetFor(o.into, table);
  const dir = await mkdtemp(join(tmpdir(), 'strata-sync-'));
  const done = (r: Omit<SyncResult, 'requests' | 'bytes' | 'ms' | 'collection' | 'target'>): SyncResult => ({
    collection: o.collection,
    target: target.description,
    ...r,
    requests: client.traffic.requests,
    bytes: client.traffic.bytes,
    ms: Date.now() - started,
  });
  try {
    const state = await target.state(o.collection);
    let reason: string | undefined;
    if (state) {
      try {
        const { batch, version, key } = await fetchChanges(client, o, state.version, dir);
        if (version === state.version && batch.upserts + batch.removed === 0)
          return done({ mode: 'current', from: state.version, version, features: 0, removed: 0 });
        o.onProgress?.({
          phase: 'writing',
          features: batch.upserts + batch.removed,
          bytes: client.traffic.bytes,
        });
        await target.apply(o.collection, batch, { version, key: key.length > 0 ? key : state.key });
        return done({
          mode: 'changes',
          from: state.version,
          version,
          features: batch.upserts,
          removed: batch.removed,
        });
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 410)) throw e;
        reason = e.detail;
      }
    }
    const full = await fullCopy(client, target, o, dir);
    return done({
      mode: 'full',
      ...(reason ? { reason } : {}),
      from: state?.version ?? null,
      version: full.state.version,
      features: full.features,
      removed: 0,
    });
  } finally {
    await target.close?.();
    await rm(dir, { recursive: true, force: true });
  }
}
