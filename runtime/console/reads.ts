import { LRUCache } from 'lru-cache';
import type { DatasetVersion } from '../archive/archive.ts';
import { type CurrentPointer, DatasetEvent } from '../archive/current.ts';
import type { QuarantineEntry, QuarantineRecord, ReleaseRecord } from '../archive/quarantine.ts';
import type { Receipt } from '../archive/receipt.ts';
import { schedulePeriodSeconds } from '../catalog/schedule-period.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import { DEFAULT_GRACE_SECONDS, overdue } from '../federation/intake.ts';
import {
  currentKey,
  datasetPrefix,
  isEventKey,
  isQuarantineReleaseKey,
  isVersionMetadataKey,
  quarantineDatasetPrefix,
  quarantineEntryOf,
  quarantineMetadataKey,
  quarantineReceiptKey,
  quarantineReleaseKey,
} from '../layout/buckets.ts';
import { type Bucket, type ObjectStore, readJson } from '../ports/object-store.ts';
import type { LatestPointer } from '../publish/manifest.ts';

/**
 * What the console shows of datasets, read from the archive bucket as the partner API reads published data
 * from egress: the database is not asked (on AWS it may be paused at 0 ACU, and a page of datasets should not
 * wake it). Versions, events and quarantine records are written once and never change, so each is read once
 * per process and kept; only `current.json`, the one pointer that moves, and the listings are read each time.
 */
export interface DatasetView {
  readonly name: string;
  /** Newest first. */
  readonly versions: readonly DatasetVersion[];
  readonly current: CurrentPointer | undefined;
  /** Every move of the current version, newest first. */
  readonly events: readonly DatasetEvent[];
  /** Files in quarantine (released ones too), newest first. */
  readonly quarantine: readonly QuarantineEntry[];
}

export interface DatasetSummary {
  readonly name: string;
  readonly versions: number;
  readonly current: CurrentPointer | undefined;
  /** Files in quarantine not released. */
  readonly quarantined: number;
}

const byNewest =
  <T>(key: (t: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? 1 : key(a) > key(b) ? -1 : 0;

export class ArchiveReader {
  private readonly kept = new LRUCache<string, object>({ max: 20_000 });

  constructor(private readonly store: ObjectStore) {}

  /** An object written once, read once. */
  private async once<T extends object>(bucket: Bucket, key: string): Promise<T> {
    const id = `${bucket}/${key}`;
    const cached = this.kept.get(id);
    if (cached) return cached as T;
    const value = await readJson<T>(this.store, bucket, key);
    this.kept.set(id, value);
    return value;
  }

  private async pointer(dataset: string, keys: ReadonlySet<string>): Promise<CurrentPointer | undefined> {
    return keys.has(currentKey(dataset))
      ? readJson<CurrentPointer>(this.store, 'archive', currentKey(dataset))
      : undefined;
  }

  async dataset(name: string): Promise<DatasetView> {
    const [objects, quarantine] = await Promise.all([
      this.store.list('archive', datasetPrefix(name)),
      this.quarantine(name),
    ]);
    const keys = new Set(objects.map((o) => o.key));
    const [versions, events, current] = await Promise.all([
      Promise.all(
        objects
          .filter((o) => isVersionMetadataKey(name, o.key))
          .map((o) => this.once<DatasetVersion>('archive', o.key)),
      ),
      Promise.all(
        objects
          .filter((o) => isEventKey(name, o.key))
          .map(async (o) => DatasetEvent.parse(await this.once('archive', o.key))),
      ),
      this.pointer(name, keys),
    ]);
    return {
      name,
      versions: versions.sort(byNewest((v) => v.version)),
      current,
      events: events.sort(byNewest((e) => e.id)),
      quarantine,
    };
  }

  /** Quarantined files of one dataset, or of all: each its record, receipt and release (if released). */
  async quarantine(dataset?: string): Promise<QuarantineEntry[]> {
    const objects = await this.store.list('archive', quarantineDatasetPrefix(dataset));
    const keys = new Set(objects.map((o) => o.key));
    const entries = await Promise.all(
      objects
        .map((o) => quarantineEntryOf(o.key))
        .filter((e): e is { dataset: string; id: string } => e !== undefined)
        .map(async ({ dataset, id }) => {
          const [record, receipt, release] = await Promise.all([
            this.once<QuarantineRecord>('archive', quarantineMetadataKey(dataset, id)),
            this.once<Receipt>('archive', quarantineReceiptKey(dataset, id)),
            keys.has(quarantineReleaseKey(dataset, id))
              ? this.once<ReleaseRecord>('archive', quarantineReleaseKey(dataset, id))
              : undefined,
          ]);
          return { ...record, receipt, ...(release ? { release } : {}) };
        }),
    );
    return entries.sort(byNewest((e) => `${e.quarantinedAt} ${e.id}`));
  }

  /** Each dataset of the catalog: how many versions, which is current, how many files wait in quarantine. */
  async datasets(catalog: Catalog): Promise<DatasetSummary[]> {
    const quarantined = (await this.store.list('archive', quarantineDatasetPrefix())).map((o) => o.key);
    return Promise.all(
      [...catalog.datasets.keys()].sort().map(async (name) => {
        const objects = await this.store.list('archive', datasetPrefix(name));
        const keys = new Set(objects.map((o) => o.key));
        const mine = quarantined.filter((k) => k.startsWith(quarantineDatasetPrefix(name)));
        const released = new Set(mine.filter(isQuarantineReleaseKey));
        const entries = mine.map(quarantineEntryOf).filter((e) => e !== undefined);
        return {
          name,
          versions: objects.filter((o) => isVersionMetadataKey(name, o.key)).length,
          current: await this.pointer(name, keys),
          quarantined: entries.filter((e) => !released.has(quarantineReleaseKey(e.dataset, e.id))).length,
        };
      }),
    );
  }
}

export interface Freshness {
  readonly state: 'on time' | 'late' | 'no schedule' | 'never published';
  readonly ageSeconds: number | null;
  /** The schedule's longest gap, when it has one the platform can read. */
  readonly periodSeconds: number | null;
}

/**
 * How fresh a product is: its latest version's age against its schedule's longest gap and the grace, the
 * rule the core applies to its children's summaries (federation/intake.ts), here to this deployment's own.
 */
export function freshness(
  schedule: string | undefined,
  latest: LatestPointer | undefined,
  now = Date.now(),
  graceSeconds = DEFAULT_GRACE_SECONDS,
): Freshness {
  let periodSeconds: number | null = null;
  try {
    periodSeconds = schedule ? schedulePeriodSeconds(schedule) : null;
  } catch {
    periodSeconds = null;
  }
  if (!latest) return { state: 'never published', ageSeconds: null, periodSeconds };
  const ageSeconds = Math.max(0, Math.round((now - Date.parse(latest.publishedAt)) / 1000));
  if (!schedule) return { state: 'no schedule', ageSeconds, periodSeconds };
  return {
    state: overdue(schedule, ageSeconds, graceSeconds) ? 'late' : 'on time',
    ageSeconds,
    periodSeconds,
  };
}
