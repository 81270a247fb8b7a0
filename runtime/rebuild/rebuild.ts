import {
  archivedVersions,
  currentVersion,
  type DatasetVersion,
  findVersion,
  listVersions,
  registerArchivedVersion,
} from '../archive/archive.ts';
import { syncEvents } from '../archive/current.ts';
import { recordLoad } from '../archive/loads.ts';
import { listQuarantine, syncQuarantine } from '../archive/quarantine.ts';
import { upstreamProducts } from '../catalog/graph.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import { ConflictError } from '../errors.ts';
import { manifestKey } from '../layout/buckets.ts';
import { loadVersion, refreshCurrentView } from '../load/load.ts';
import type { Platform } from '../platform/platform.ts';
import type { Manifest } from '../publish/manifest.ts';
import {
  type PublishedRecord,
  publishedRecords,
  registeredVersions,
  restoreVersion,
} from '../publish/registry.ts';
import { readManifestAt } from '../publish/versions.ts';
import {
  type Behind,
  type BucketRecord,
  behind,
  isEmpty,
  nothingBehind,
  readBucketRecord,
} from './record.ts';

/**
 * `strata db rebuild`: a database made again from the buckets alone, which are the platform's record. Every
 * dataset version is registered from its `metadata.json`, the current pointers and their history from
 * `events/`, the quarantine from `quarantine/`, and every published product version from its manifest and
 * its registration (`published/`), with the run that made it and its lineage. Then the current version of
 * each dataset is loaded (every version with `all`). It only ever adds: on a database that is not empty it
 * runs only when that database is behind the buckets (restored from an older snapshot), and says what it adds.
 */

export interface RebuildOptions {
  /** Load every version, not only the current one of each dataset. */
  readonly all?: boolean;
  /** Versions to load besides the current ones (a move loads what the database it replaces had loaded). */
  readonly load?: readonly { dataset: string; version: string }[];
  /** Say what would be added, and change nothing. */
  readonly dryRun?: boolean;
  /** Told of each step and each version as it is loaded. */
  readonly onProgress?: (message: string) => void;
}

export interface RebuildReport {
  /** Whether the database was empty; if not, it was behind the buckets by `added`. */
  readonly empty: boolean;
  readonly dryRun: boolean;
  /** What the buckets held that the database did not, and was (or with `dryRun`, would be) added. */
  readonly added: Behind;
  readonly loaded: { dataset: string; version: string; rows: number; ms: number }[];
  /** Versions it was asked to load and could not, each with the reason. */
  readonly notLoaded: { dataset: string; version: string; reason: string }[];
  /** What the buckets do not record, so no rebuild can bring it back. */
  readonly notRestored: string[];
}

/** Refused: the database holds the platform's data already and the buckets hold nothing it lacks. */
export class NothingToRebuildError extends ConflictError {}

export async function rebuildDatabase(
  p: Platform,
  catalog: Catalog,
  options: RebuildOptions = {},
): Promise<RebuildReport> {
  const say = options.onProgress ?? (() => {});
  const record = await readBucketRecord(p.store);
  const empty = await isEmpty(p.db, p.runs);
  const added = await behind(p.db, record);
  if (!empty && nothingBehind(added))
    throw new NothingToRebuildError(
      'the database is not empty and is not behind the buckets: a rebuild would add nothing (it runs on an empty database, or one restored from an older snapshot)',
    );
  const report = {
    empty,
    dryRun: options.dryRun ?? false,
    added,
    loaded: [],
    notLoaded: [],
    notRestored: notRestored(record, readByProducts(catalog)),
  };
  if (options.dryRun) return report;
  await restoreDatasets(p, record, say);
  await restoreProducts(p, record, say);
  await loadVersions(p, catalog, record, options, report);
  return report;
}

/** Versions, the moves of the current version, and the quarantine, dataset by dataset. */
async function restoreDatasets(p: Platform, record: BucketRecord, say: (m: string) => void): Promise<void> {
  for (const r of record.datasets) {
    let registered = 0;
    for (const v of await archivedVersions(p.store, r.dataset))
      if (await registerArchivedVersion(p.db, v)) registered++;
    const moves = await syncEvents(p.db, p.store, r.dataset);
    say(`${r.dataset}: ${registered} version(s) registered, ${moves} move(s) of its current version`);
  }
  const before = (await listQuarantine(p.db)).length;
  await syncQuarantine(p.db, p.store);
  say(`quarantine: ${(await listQuarantine(p.db)).length - before} file(s) restored`);
}

/** Every published product version the database does not know, with the run that made it. */
async function restoreProducts(p: Platform, record: BucketRecord, say: (m: string) => void): Promise<void> {
  for (const [product, versions] of record.products) {
    const registrations = await publishedRecords(p.store, product);
    const known = await registeredVersions(p.db, product);
    let restored = 0;
    for (const version of versions.filter((v) => !known.has(v)).sort()) {
      const manifest = await readManifestAt(p.store, manifestKey(product, version));
      const registration = registrations.get(version);
      await p.runs.restoreSucceeded(buildRun(manifest, registration));
      const publishedAt = registration?.publishedAt ?? manifest.builtAt;
      const key = manifestKey(product, version);
      if (
        await restoreVersion(p.db, { product, version, runId: manifest.runId, manifestKey: key, publishedAt })
      )
        restored++;
    }
    say(`${product}: ${restored} published version(s) registered`);
  }
}

/**
 * The run that built a published version, as the buckets remember it: its lineage (the lock) and what it
 * published from the manifest; its trigger and times from its registration, or for a version published
 * before registrations were kept, from the manifest alone.
 */
function buildRun(m: Manifest, registration: PublishedRecord | undefined) {
  const run = registration?.run;
  return {
    id: m.runId,
    kind: 'build' as const,
    target: m.product,
    trigger: run?.trigger ?? { kind: 'cli' as const, detail: { restored: 'trigger not recorded' } },
    attempts: run?.attempts ?? 1,
    createdAt: run?.createdAt ?? m.builtAt,
    startedAt: run?.startedAt ?? null,
    finishedAt: registration?.publishedAt ?? m.builtAt,
    lineage: { inputs: m.inputs },
    result: {
      product: m.product,
      version: m.version,
      manifest: manifestKey(m.product, m.version),
      outputs: m.outputs.map((o) => ({ key: o.key, rows: o.rows, size: o.size, sha256: o.sha256 })),
      checks: m.checks.map((c) => ({ name: c.name, passed: c.passed, count: c.count })),
      steps: m.steps,
      restored: 'from the buckets by strata db rebuild',
    },
    catalogSha256: run?.catalogSha256 ?? null,
  };
}

/**
 * The versions to load: the current one of each dataset first, then those asked for, then (with `all`) the
 * rest, newest first; none that is loaded already.
 */
async function toLoad(p: Platform, record: BucketRecord, options: RebuildOptions) {
  const wanted = new Map<string, { dataset: string; version: string }>();
  const want = (dataset: string, version: string) =>
    wanted.set(`${dataset}@${version}`, { dataset, version });
  for (const r of record.datasets) {
    if (r.versions.length === 0) continue;
    // A dataset from before the current version was recorded reads its newest version.
    want(r.dataset, (await currentVersion(p.db, r.dataset))?.version ?? [...r.versions].sort().at(-1)!);
  }
  for (const v of options.load ?? []) want(v.dataset, v.version);
  if (options.all)
    for (const r of record.datasets) for (const v of [...r.versions].sort().reverse()) want(r.dataset, v);
  const out: { dataset: string; version: string }[] = [];
  for (const v of wanted.values()) {
    const [row] = await listVersions(p.db, v.dataset, v.version);
    if (!row?.table) out.push(v);
  }
  return out;
}

async function loadVersions(
  p: Platform,
  catalog: Catalog,
  record: BucketRecord,
  options: RebuildOptions,
  report: { loaded: RebuildReport['loaded']; notLoaded: RebuildReport['notLoaded'] },
): Promise<void> {
  const wanted = await toLoad(p, record, options);
  for (const [i, { dataset, version }] of wanted.entries()) {
    const definition = catalog.datasets.get(dataset);
    const meta = await findVersion(p.db, p.store, dataset, version);
    if (!definition || !meta) {
      const reason = definition ? 'not a complete version in the archive' : 'the catalog has no such dataset';
      report.notLoaded.push({ dataset, version, reason });
      continue;
    }
    options.onProgress?.(`loading ${dataset}@${version} (${i + 1}/${wanted.length})`);
    const started = Date.now();
    try {
      const loaded = await load(p, definition, meta);
      if (loaded.loaded)
        report.loaded.push({ dataset, version, rows: loaded.rows, ms: Date.now() - started });
    } catch (e) {
      report.notLoaded.push({ dataset, version, reason: (e as Error).message });
    }
  }
  // A database restored from an older snapshot may have the version now current loaded already.
  for (const r of record.datasets) await refreshCurrentView(p.db, r.dataset);
}

async function load(p: Platform, definition: Parameters<typeof loadVersion>[2], meta: DatasetVersion) {
  const loaded = await loadVersion(p.db, p.store, definition, meta);
  await recordLoad(p.db, p.store, meta.dataset, meta.version);
  return loaded;
}

/** What lived only in the database: said at the end of every rebuild, with what the buckets show of it. */
/** Products whose inputs name another product: they read its versions' kept tables, which only a build makes. */
function readByProducts(catalog: Catalog): string[] {
  return [
    ...new Set([...catalog.products.values()].flatMap(({ product }) => upstreamProducts(product))),
  ].sort();
}

function notRestored(record: BucketRecord, upstream: readonly string[]): string[] {
  const unfinished = record.datasets.flatMap((r) => r.unfinished.map((v) => `${r.dataset}/${v}`));
  return [
    'runs that had not finished (queued, running, interrupted), failed runs, every run of an ingest (so a partner asking about an upload from before is told it waits, with no run; the versions and quarantine it made are restored), the attempts and cost ledgers of every run, and the job queue: they were in the database alone',
    ...(unfinished.length > 0
      ? [
          `${unfinished.length} ingest(s) received their bytes and never finished (${unfinished.slice(0, 5).join(', ')}${unfinished.length > 5 ? ', …' : ''}): send those files again; their bytes are taken up from the archive, not copied twice`,
        ]
      : []),
    ...(upstream.length > 0
      ? [
          `the kept tables of published versions of ${upstream.join(', ')}, which other products read: a build makes them, and its published files stay the record; build ${upstream.length > 1 ? 'those products' : upstream[0]} again (strata build <product> --downstream) before the products that read ${upstream.length > 1 ? 'them' : 'it'}`,
        ]
      : []),
    "partners' Hawk nonces and rate-limit buckets: the request guards hold them, not the database (in memory locally, DynamoDB on AWS), so a rebuild neither loses nor restores them",
  ];
}
