import { isUpstreamInput } from '../catalog/schema.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import { LOADING_SCHEMA } from '../load/table.ts';
import type { Database } from '../ports/database.ts';
import { isLockedUpstream, type LockedInput } from '../publish/manifest.ts';
import { isRegistered, newestVersion } from '../publish/registry.ts';
import { dropKeptVersion, listKeptVersions } from '../publish/tables.ts';
import { RunRegistry } from '../runs/registry.ts';
import { ident, qualified } from '../util/sql.ts';

/** What Strata wrote in a schema's or table's comment; nothing when someone else wrote it. */
function commentJson<T>(comment: string | null): Partial<T> {
  try {
    return comment ? JSON.parse(comment) : {};
  } catch {
    return {};
  }
}

export interface StaleSchema {
  readonly schema: string;
  readonly product: string | null;
  readonly runId: string | null;
  readonly status: string | null;
  readonly reason: string;
}

/**
 * Drops build schemas nobody needs: those of finished successful runs, of failed runs older than the
 * product's `keepFailedBuildHours` (or all failed ones with `all`), and of runs that no longer exist.
 * A running build's schema is left alone.
 */
export async function collectBuildSchemas(
  db: Database,
  catalog: Catalog,
  options: { all?: boolean; dryRun?: boolean; now?: Date } = {},
): Promise<StaleSchema[]> {
  const now = options.now ?? new Date();
  const schemas = await db.query<{ schema: string; comment: string | null }>(
    `SELECT n.nspname AS schema, obj_description(n.oid, 'pg_namespace') AS comment
     FROM pg_namespace n WHERE n.nspname LIKE 'build\\_%' AND n.nspname NOT LIKE '%@%'`,
  );
  const runIds = schemas.flatMap((r) => commentJson<{ runId: string }>(r.comment).runId ?? []);
  const runs = new Map((await new RunRegistry(db).getMany(runIds)).map((run) => [run.id, run]));
  const rows = schemas.map((r) => {
    const run = runs.get(commentJson<{ runId: string }>(r.comment).runId ?? '');
    return { ...r, status: run?.status ?? null, finished_at: run?.finishedAt ?? null };
  });
  const stale: StaleSchema[] = [];
  for (const r of rows) {
    const meta = commentJson<{ product: string; runId: string }>(r.comment);
    const base = {
      schema: r.schema,
      product: meta.product ?? null,
      runId: meta.runId ?? null,
      status: r.status,
    };
    if (r.status === 'running' || r.status === 'queued') continue;
    if (r.status === null) stale.push({ ...base, reason: 'no run records it' });
    else if (r.status === 'succeeded') stale.push({ ...base, reason: 'its build succeeded' });
    else {
      const hours = catalog.products.get(meta.product ?? '')?.product.keepFailedBuildHours ?? 24;
      const age = (now.getTime() - Date.parse(r.finished_at ?? '')) / 3_600_000;
      if (options.all || !(age < hours))
        stale.push({
          ...base,
          reason: `its build ${r.status}${Number.isFinite(age) ? ` ${age.toFixed(1)} h ago` : ''}`,
        });
    }
  }
  if (!options.dryRun)
    for (const s of stale) await db.exec(`DROP SCHEMA IF EXISTS ${ident(s.schema)} CASCADE`);
  return stale;
}

export interface StaleLoad {
  /** `strata_loading.<table>`, unquoted. */
  readonly table: string;
  readonly dataset: string | null;
  readonly version: string | null;
  readonly reason: string;
}

/**
 * Drops staging tables of parallel loads that never finished (the process was killed between filling and
 * moving them): those started more than `hours` ago. A load still running is younger than that.
 */
export async function collectStaleLoads(
  db: Database,
  options: { hours?: number; dryRun?: boolean; now?: Date } = {},
): Promise<StaleLoad[]> {
  const now = options.now ?? new Date();
  const hours = options.hours ?? 24;
  const rows = await db.query<{ name: string; comment: string | null }>(
    `SELECT c.relname AS name, obj_description(c.oid, 'pg_class') AS comment
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind = 'r'`,
    [LOADING_SCHEMA],
  );
  const stale: StaleLoad[] = [];
  for (const r of rows) {
    const meta = commentJson<{ dataset: string; version: string; startedAt: string }>(r.comment);
    const age = (now.getTime() - Date.parse(meta.startedAt ?? '')) / 3_600_000;
    if (age < hours) continue;
    stale.push({
      table: `${LOADING_SCHEMA}.${r.name}`,
      dataset: meta.dataset ?? null,
      version: meta.version ?? null,
      reason: Number.isFinite(age)
        ? `a load started ${age.toFixed(1)} h ago and never finished`
        : 'a load that never finished',
    });
    if (!options.dryRun) await db.exec(`DROP TABLE IF EXISTS ${qualified(LOADING_SCHEMA, r.name)}`);
  }
  return stale;
}

export interface DroppedVersion {
  readonly schema: string;
  readonly product: string;
  readonly version: string;
  readonly reason: string;
}

/** The product versions something may still read: pinned in the catalog, or locked by a build running now. */
async function versionsInUse(db: Database, catalog: Catalog): Promise<Set<string>> {
  const used = new Set<string>();
  for (const entry of catalog.products.values())
    for (const i of Object.values(entry.product.inputs))
      if (isUpstreamInput(i) && i.version !== 'latest') used.add(`${i.product}@${i.version}`);
  for (const run of await new RunRegistry(db).list({ kind: 'build', status: 'running', limit: 1000 })) {
    const inputs = (run.lineage as { inputs?: LockedInput[] } | null)?.inputs ?? [];
    for (const i of inputs) if (isLockedUpstream(i)) used.add(`${i.product}@${i.version}`);
  }
  return used;
}

/**
 * Drops the kept tables of product versions nothing reads any more (runtime/publish/tables.ts): a version
 * superseded by a newer one of its product, pinned by no input of the catalog and locked by no running
 * build; and tables kept for a publish that never registered its version (its run no longer running).
 * Only the database's copies go: the published files in the egress bucket stay, for good.
 */
export async function collectKeptVersions(
  db: Database,
  catalog: Catalog,
  options: { dryRun?: boolean } = {},
): Promise<DroppedVersion[]> {
  const used = await versionsInUse(db, catalog);
  const runs = new RunRegistry(db);
  const newest = new Map<string, string | undefined>();
  const dropped: DroppedVersion[] = [];
  for (const kept of await listKeptVersions(db)) {
    const { product, version } = kept;
    if (!newest.has(product)) newest.set(product, (await newestVersion(db, product))?.version);
    let reason: string | undefined;
    if (!(await isRegistered(db, product, version))) {
      const [run] = await runs.getMany([kept.runId]);
      if (run?.status !== 'running' && run?.status !== 'queued')
        reason = 'its publish never registered the version';
    } else if (newest.get(product) !== version && !used.has(`${product}@${version}`))
      reason = `superseded by ${newest.get(product)}; nothing pins or reads it`;
    if (!reason) continue;
    dropped.push({ schema: kept.schema, product, version, reason });
    if (!options.dryRun) await dropKeptVersion(db, kept.schema);
  }
  return dropped;
}
