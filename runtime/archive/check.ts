import {
  datasetPrefix,
  METADATA,
  metadataKey,
  NOT_VERSIONS,
  quarantineDatasetPrefix,
  quarantineEntryOf,
  versionFolderOf,
} from '../layout/buckets.ts';
import type { Database } from '../ports/database.ts';
import { type ObjectStore, readJson } from '../ports/object-store.ts';
import { sha256Of } from '../util/hash.ts';
import { type DatasetVersion, listVersions, registeredDatasets } from './archive.ts';

/**
 * What `strata archive check` finds:
 * - `missing`: the database registers a version the archive does not hold (complete) — data lost;
 * - `mismatch`: the bytes no longer have the size or sha256 their metadata records (with `verify`);
 * - `incomplete`: a version folder with bytes but no metadata.json: an ingest stopped between the two. Its
 *   bytes are kept (nothing is deleted from the archive) and nothing counts them as a version;
 * - `unregistered`: a complete version the database does not know, as after the database was rebuilt. The
 *   next ingest of the same bytes registers it; nothing is wrong with the archive.
 * - `quarantined`: bytes received and refused by the dataset's contract, kept in quarantine (not a version).
 */
export type ArchiveFindingKind = 'missing' | 'mismatch' | 'incomplete' | 'unregistered' | 'quarantined';

export interface ArchiveFinding {
  readonly dataset: string;
  readonly version: string;
  readonly kind: ArchiveFindingKind;
  readonly detail: string;
}

export interface ArchiveReport {
  /** Complete versions looked at. */
  readonly versions: number;
  readonly findings: ArchiveFinding[];
}

/** Findings that mean the archive does not hold what it promised. */
export const isDamage = (f: ArchiveFinding) => f.kind === 'missing' || f.kind === 'mismatch';

/**
 * Every dataset the catalog declares or the database holds versions of: what a check looks at when it is
 * not told. A dataset dropped from the catalog still has its archive.
 */
export async function knownDatasets(db: Database, declared: Iterable<string>): Promise<string[]> {
  return [...new Set([...declared, ...(await registeredDatasets(db))])];
}

/** A dataset's version folders in the archive, each with the names of its files. */
async function versionFolders(store: ObjectStore, dataset: string): Promise<Map<string, string[]>> {
  const folders = new Map<string, string[]>();
  for (const o of await store.list('archive', datasetPrefix(dataset))) {
    const at = versionFolderOf(dataset, o.key);
    if (!at || NOT_VERSIONS.has(at.version)) continue;
    folders.set(at.version, [...(folders.get(at.version) ?? []), at.file]);
  }
  return folders;
}

/** Ids of a dataset's files in quarantine. */
async function quarantinedIds(store: ObjectStore, dataset: string): Promise<Set<string>> {
  const entries = (await store.list('archive', quarantineDatasetPrefix(dataset))).map((o) =>
    quarantineEntryOf(o.key),
  );
  return new Set(entries.filter((e) => e !== undefined).map((e) => e.id));
}

/** A folder without metadata.json: refused and kept in quarantine, or an ingest that stopped midway. */
function notAVersion(
  dataset: string,
  version: string,
  files: string[],
  quarantined: boolean,
): ArchiveFinding {
  return quarantined
    ? {
        dataset,
        version,
        kind: 'quarantined',
        detail: `refused by the contract and kept in quarantine (strata quarantine show ${dataset}/${version})`,
      }
    : {
        dataset,
        version,
        kind: 'incomplete',
        detail: `${files.join(', ')} without metadata.json: an ingest that stopped before it finished`,
      };
}

/** Reads a version's bytes again and compares them with its metadata. */
async function verifyBytes(store: ObjectStore, meta: DatasetVersion): Promise<ArchiveFinding | undefined> {
  const { dataset, version } = meta;
  const actual = await store
    .get('archive', meta.key)
    .then(sha256Of)
    .catch(() => undefined);
  if (!actual) return { dataset, version, kind: 'mismatch', detail: `${meta.key} cannot be read` };
  if (actual.sha256 === meta.sha256 && actual.size === meta.size) return undefined;
  return {
    dataset,
    version,
    kind: 'mismatch',
    detail: `${meta.key} is ${actual.size} bytes with sha256 ${actual.sha256.slice(0, 12)}…; its metadata says ${meta.size} bytes, ${meta.sha256.slice(0, 12)}…`,
  };
}

/** Registered versions whose folder has no metadata.json (or no folder at all). */
function missingVersions(
  dataset: string,
  registered: Iterable<{ version: string }>,
  folders: Map<string, string[]>,
): ArchiveFinding[] {
  return [...registered].flatMap((v) => {
    const files = folders.get(v.version);
    if (files?.includes(METADATA)) return [];
    return [
      {
        dataset,
        version: v.version,
        kind: 'missing' as const,
        detail: `registered in the database, but the archive has ${files ? 'no metadata.json' : 'no such version'}`,
      },
    ];
  });
}

/** One dataset's findings, and how many complete versions it has. */
async function checkDataset(
  db: Database,
  store: ObjectStore,
  dataset: string,
  options: { verify?: boolean; onVersion?: (dataset: string, version: string) => void },
): Promise<{ versions: number; findings: ArchiveFinding[] }> {
  const findings: ArchiveFinding[] = [];
  let versions = 0;
  const folders = await versionFolders(store, dataset);
  const registered = new Map((await listVersions(db, dataset)).map((v) => [v.version, v]));
  const quarantined = await quarantinedIds(store, dataset);
  for (const [version, files] of [...folders].sort(([a], [b]) => a.localeCompare(b))) {
    if (!files.includes(METADATA)) {
      // A registered version without its metadata is reported below, as missing.
      if (!registered.has(version))
        findings.push(notAVersion(dataset, version, files, quarantined.has(version)));
      continue;
    }
    versions++;
    options.onVersion?.(dataset, version);
    if (!registered.has(version))
      findings.push({
        dataset,
        version,
        kind: 'unregistered',
        detail: 'archived but not in the database (registered again when the same bytes are ingested)',
      });
    if (!options.verify) continue;
    // Only --verify needs what the metadata records: a check without it reads no object, only listings.
    const meta = await readJson<DatasetVersion>(store, 'archive', metadataKey(dataset, version));
    const damage = await verifyBytes(store, meta);
    if (damage) findings.push(damage);
  }
  findings.push(...missingVersions(dataset, registered.values(), folders));
  return { versions, findings };
}

/**
 * Compares each dataset's archive with what the database registers, and with `verify`, every version's
 * bytes with its recorded size and sha256 (which reads the whole archive).
 */
export async function checkArchive(
  db: Database,
  store: ObjectStore,
  datasets: readonly string[],
  options: { verify?: boolean; onVersion?: (dataset: string, version: string) => void } = {},
): Promise<ArchiveReport> {
  const report = { versions: 0, findings: [] as ArchiveFinding[] };
  for (const dataset of datasets) {
    const found = await checkDataset(db, store, dataset, options);
    report.versions += found.versions;
    report.findings.push(...found.findings);
  }
  return report;
}
