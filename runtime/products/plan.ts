import { resolveVersion } from '../archive/archive.ts';
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
 * dataset's current version (what was last sent, or promoted; see runtime/archive/current.ts); a pinned
 * version must exist and be loaded.
 */
export async function planBuild(db: Queryable, entry: ProductEntry): Promise<LockedInput[]> {
  const lock: LockedInput[] = [];
  for (const [alias, input] of Object.entries(entry.product.inputs)) {
    const found = await resolveVersion(db, input.dataset, input.version);
    if (!found) {
      throw new BuildError(
        input.version === 'latest'
          ? `input "${alias}": dataset "${input.dataset}" has no current version loaded yet; ingest one first`
          : `input "${alias}": dataset "${input.dataset}" has no version "${input.version}" (see: strata versions ${input.dataset})`,
        { step: 'plan' },
      );
    }
    if (!found.table)
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
      table: found.table,
      rows: found.rows,
    });
  }
  return lock;
}
