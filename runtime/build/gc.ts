import type { Catalog } from '../catalog/loader.ts';
import type { Database } from '../ports/database.ts';
import { ident } from '../util/sql.ts';

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
  const rows = await db.query<{
    schema: string;
    comment: string | null;
    status: string | null;
    finished_at: string | null;
  }>(
    `SELECT n.nspname AS schema, obj_description(n.oid, 'pg_namespace') AS comment, r.status,
       to_char(r.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS finished_at
     FROM pg_namespace n
     LEFT JOIN strata.runs r ON r.id = (obj_description(n.oid, 'pg_namespace')::jsonb ->> 'runId')
     WHERE n.nspname LIKE 'build\\_%'`,
  );
  const stale: StaleSchema[] = [];
  for (const r of rows) {
    let meta: { product?: string; runId?: string } = {};
    try {
      meta = r.comment ? JSON.parse(r.comment) : {};
    } catch {
      meta = {};
    }
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
