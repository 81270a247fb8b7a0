import { QUARANTINE } from '../contracts/quarantine.ts';
import { NOT_VERSIONS } from '../datasets/current.ts';
import type { Database } from '../ports/database.ts';
import { type ObjectStore, readJson } from '../ports/object-store.ts';
import { sha256Of } from '../util/hash.ts';
import { type DatasetVersion, datasetPrefix, listVersions } from './archive.ts';

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
  const registered = await db.query<{ dataset: string }>(
    'SELECT DISTINCT dataset FROM strata.dataset_versions ORDER BY dataset',
  );
  return [...new Set([...declared, ...registered.map((r) => r.dataset)])];
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
  const findings: ArchiveFinding[] = [];
  let versions = 0;
  for (const dataset of datasets) {
    const prefix = datasetPrefix(dataset);
    const folders = new Map<string, string[]>();
    for (const o of await store.list('archive', prefix)) {
      const [version, ...rest] = o.key.slice(prefix.length).split('/');
      if (!version || rest.length === 0 || NOT_VERSIONS.has(version)) continue;
      folders.set(version, [...(folders.get(version) ?? []), rest.join('/')]);
    }
    const registered = new Map((await listVersions(db, dataset)).map((v) => [v.version, v]));
    const quarantined = new Set(
      (await store.list('archive', `${QUARANTINE}${dataset}/`))
        .filter((o) => o.key.endsWith('/metadata.json'))
        .map((o) => o.key.split('/')[2]),
    );
    for (const [version, files] of [...folders].sort(([a], [b]) => a.localeCompare(b))) {
      // A registered version without its metadata is reported below, as missing.
      if (!files.includes('metadata.json') && registered.has(version)) continue;
      if (!files.includes('metadata.json') && quarantined.has(version)) {
        findings.push({
          dataset,
          version,
          kind: 'quarantined',
          detail: `refused by the contract and kept in quarantine (strata quarantine show ${dataset}/${version})`,
        });
        continue;
      }
      if (!files.includes('metadata.json')) {
        findings.push({
          dataset,
          version,
          kind: 'incomplete',
          detail: `${files.join(', ')} without metadata.json: an ingest that stopped before it finished`,
        });
        continue;
      }
      versions++;
      options.onVersion?.(dataset, version);
      const meta = await readJson<DatasetVersion>(store, 'archive', `${prefix}${version}/metadata.json`);
      if (!registered.has(version))
        findings.push({
          dataset,
          version,
          kind: 'unregistered',
          detail: 'archived but not in the database (registered again when the same bytes are ingested)',
        });
      if (!options.verify) continue;
      const actual = await store
        .get('archive', meta.key)
        .then(sha256Of)
        .catch(() => undefined);
      if (!actual)
        findings.push({ dataset, version, kind: 'mismatch', detail: `${meta.key} cannot be read` });
      else if (actual.sha256 !== meta.sha256 || actual.size !== meta.size)
        findings.push({
          dataset,
          version,
          kind: 'mismatch',
          detail: `${meta.key} is ${actual.size} bytes with sha256 ${actual.sha256.slice(0, 12)}…; its metadata says ${meta.size} bytes, ${meta.sha256.slice(0, 12)}…`,
        });
    }
    for (const v of registered.values()) {
      const files = folders.get(v.version);
      if (!files?.includes('metadata.json'))
        findings.push({
          dataset,
          version: v.version,
          kind: 'missing',
          detail: `registered in the database, but the archive has ${files ? 'no metadata.json' : 'no such version'}`,
        });
    }
  }
  return { versions, findings };
}
