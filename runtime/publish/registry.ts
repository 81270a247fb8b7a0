import type { Queryable } from '../ports/database.ts';

/**
 * `strata.product_versions`, the database's record of every version published: its one owner. The bucket
 * holds what a version is (its manifest); this table holds which run made it, for the versions' lineage.
 */

export interface RegisteredVersion {
  readonly version: string;
  readonly runId: string;
}

export async function registerVersion(
  db: Queryable,
  v: { product: string; version: string; runId: string; manifestKey: string },
): Promise<void> {
  await db.query(
    'INSERT INTO strata.product_versions (product, version, run_id, manifest_key) VALUES ($1, $2, $3, $4)',
    [v.product, v.version, v.runId, v.manifestKey],
  );
}

/** Takes back a registration whose manifest could not be written: best effort, the version never showed. */
export async function unregisterVersion(db: Queryable, product: string, version: string): Promise<void> {
  await db
    .query('DELETE FROM strata.product_versions WHERE product = $1 AND version = $2', [product, version])
    .catch(() => {});
}

/** A product's newest registered version and the run that made it; undefined when none is. */
export async function newestVersion(db: Queryable, product: string): Promise<RegisteredVersion | undefined> {
  const [row] = await db.query<{ version: string; run_id: string }>(
    'SELECT version, run_id FROM strata.product_versions WHERE product = $1 ORDER BY version DESC LIMIT 1',
    [product],
  );
  return row ? { version: row.version, runId: row.run_id } : undefined;
}

/** Whether a product version is registered (a publish that failed before its manifest took it back). */
export async function isRegistered(db: Queryable, product: string, version: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM strata.product_versions WHERE product = $1 AND version = $2', [
    product,
    version,
  ]);
  return rows.length > 0;
}
