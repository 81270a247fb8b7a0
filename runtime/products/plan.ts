import type { ProductEntry } from '../catalog/schema.ts';
import { type Catalog, unavailable } from '../catalog-files/loader.ts';
import { BuildError } from '../errors.ts';
import type { Queryable } from '../ports/database.ts';
import type { LockedInput } from '../publish/manifest.ts';

export function requireProduct(catalog: Catalog, name: string): ProductEntry {
  const entry = catalog.products.get(name);
  if (!entry) throw unavailable(catalog, 'product', name);
  return entry;
}

/**
 * Resolves every input of a product to an exact, loaded dataset version (the recipe lock): `latest` is the
 * dataset's current version (what was last sent, or promoted; see runtime/datasets/current.ts); a pinned
 * version must exist and be loaded.
 */
export async function planBuild(db: Queryable, entry: ProductEntry): Promise<LockedInput[]> {
  const lock: LockedInput[] = [];
  for (const [alias, input] of Object.entries(entry.product.inputs)) {
    const rows = await db.query<{
      version: string;
      sha256: string;
      loaded_table: string | null;
      row_count: string | null;
    }>(
      `SELECT v.version, v.sha256, v.loaded_table, v.row_count::text AS row_count FROM strata.dataset_versions v
       WHERE v.dataset = $1 AND v.version = CASE WHEN $2::text = 'latest'
         THEN (SELECT c.version FROM strata.dataset_current c WHERE c.dataset = $1) ELSE $2 END`,
      [input.dataset, input.version],
    );
    const found = rows[0];
    if (!found) {
      throw new BuildError(
        input.version === 'latest'
          ? `input "${alias}": dataset "${input.dataset}" has no current version loaded yet; ingest one first`
          : `input "${alias}": dataset "${input.dataset}" has no version "${input.version}" (see: strata versions ${input.dataset})`,
        { step: 'plan' },
      );
    }
    if (!found.loaded_table)
      throw new BuildError(
        `input "${alias}": version ${found.version} of "${input.dataset}" is archived but not loaded (send its file again, or: strata datasets promote ${input.dataset} ${found.version} --reason "...")`,
        {
          step: 'plan',
        },
      );
    lock.push({
      alias,
      dataset: input.dataset,
      requested: input.version,
      version: found.version,
      sha256: found.sha256,
      table: found.loaded_table,
      rows: Number(found.row_count),
    });
  }
  return lock;
}
