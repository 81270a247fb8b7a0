import { z } from 'zod';
import { publishedPrefix, publishedRecordKey } from '../layout/buckets.ts';
import type { Queryable } from '../ports/database.ts';
import { ObjectExistsError, type ObjectStore, readJson } from '../ports/object-store.ts';
import { Trigger } from '../runs/schema.ts';

/**
 * `strata.product_versions`, the database's record of every version published: its one owner. The bucket
 * holds what a version is (its manifest); this table holds which run made it, for the versions' lineage.
 * What the table holds is also written once to the archive (`published/<product>/<version>.json`) as the
 * version is published, so a rebuilt database registers it again with the run that made it.
 */

export interface RegisteredVersion {
  readonly version: string;
  readonly runId: string;
}

/** `published/<product>/<version>.json`: the registration, and what the run that made it was asked. */
export const PublishedRecord = z.object({
  product: z.string(),
  version: z.string(),
  runId: z.string(),
  manifestKey: z.string(),
  publishedAt: z.string(),
  run: z.object({
    trigger: Trigger,
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    attempts: z.number(),
    catalogSha256: z.string().nullable(),
  }),
});
export type PublishedRecord = z.infer<typeof PublishedRecord>;

export async function registerVersion(
  db: Queryable,
  v: { product: string; version: string; runId: string; manifestKey: string; publishedAt?: string },
): Promise<void> {
  await db.query(
    `INSERT INTO strata.product_versions (product, version, run_id, manifest_key, published_at)
     VALUES ($1, $2, $3, $4, COALESCE($5::timestamptz, now()))`,
    [v.product, v.version, v.runId, v.manifestKey, v.publishedAt ?? null],
  );
}

/** Writes a version's registration to the archive, once; a retry that finds it written goes on. */
export async function recordPublished(store: ObjectStore, record: PublishedRecord): Promise<void> {
  try {
    await store.put(
      'archive',
      publishedRecordKey(record.product, record.version),
      `${JSON.stringify(record, null, 2)}\n`,
      { contentType: 'application/json' },
    );
  } catch (e) {
    if (!(e instanceof ObjectExistsError)) throw e;
  }
}

/** The registrations the archive holds for a product's versions, by version. */
export async function publishedRecords(
  store: ObjectStore,
  product: string,
): Promise<Map<string, PublishedRecord>> {
  const records = new Map<string, PublishedRecord>();
  for (const o of await store.list('archive', publishedPrefix(product))) {
    const record = PublishedRecord.safeParse(await readJson(store, 'archive', o.key));
    // One that does not read is left to the manifest alone, as for versions published before these were kept.
    if (record.success) records.set(record.data.version, record.data);
  }
  return records;
}

/** Registers a version again (a rebuild): a version the database knows already is left as it is. */
export async function restoreVersion(
  db: Queryable,
  v: { product: string; version: string; runId: string; manifestKey: string; publishedAt: string },
): Promise<boolean> {
  const rows = await db.query(
    `INSERT INTO strata.product_versions (product, version, run_id, manifest_key, published_at)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING version`,
    [v.product, v.version, v.runId, v.manifestKey, v.publishedAt],
  );
  return rows.length > 0;
}

/** The versions of a product the database registers. */
export async function registeredVersions(db: Queryable, product: string): Promise<Set<string>> {
  const rows = await db.query<{ version: string }>(
    'SELECT version FROM strata.product_versions WHERE product = $1',
    [product],
  );
  return new Set(rows.map((r) => r.version));
}

/** How many product versions the database registers, of every product. */
export async function countRegisteredVersions(db: Queryable): Promise<number> {
  const [row] = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM strata.product_versions');
  return Number(row?.n ?? 0);
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
