import { resolveVersion } from '../archive/archive.ts';
import {
  type DatasetInput,
  isUpstreamInput,
  type ProductEntry,
  type UpstreamInput,
} from '../catalog/schema.ts';
import { type Catalog, unavailable } from '../catalog-files/loader.ts';
import { BuildError, NotFoundError } from '../errors.ts';
import type { Queryable } from '../ports/database.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { LockedDataset, LockedInput, LockedUpstream } from '../publish/manifest.ts';
import { readPublishedVersion } from '../publish/reader.ts';
import { keptTableExists, productVersionSchema } from '../publish/tables.ts';

export function requireProduct(catalog: Catalog, name: string): ProductEntry {
  const entry = catalog.products.get(name);
  if (!entry) throw unavailable(catalog, 'product', name);
  return entry;
}

/**
 * Resolves every input of a product to an exact version (the recipe lock): a dataset's `latest` is its
 * current version (what was last sent, or promoted; see runtime/archive/current.ts), a product's `latest`
 * the version its `latest.json` names now; a pinned version must exist. Either must be in the database:
 * a loaded dataset version, or a product version's kept tables (runtime/publish/tables.ts). The store is
 * needed only for products that read other products.
 */
export async function planBuild(
  db: Queryable,
  entry: ProductEntry,
  store?: ObjectStore,
): Promise<LockedInput[]> {
  const lock: LockedInput[] = [];
  for (const [alias, input] of Object.entries(entry.product.inputs))
    lock.push(
      isUpstreamInput(input)
        ? await lockUpstream(db, store, alias, input)
        : await lockDataset(db, alias, input),
    );
  return lock;
}

async function lockDataset(db: Queryable, alias: string, input: DatasetInput): Promise<LockedDataset> {
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
      { step: 'plan' },
    );
  return {
    alias,
    dataset: input.dataset,
    requested: input.version,
    version: found.version,
    sha256: found.sha256,
    table: found.table,
    rows: found.rows,
  };
}

/**
 * An output of another product's published version: the version is read from its manifest (the published
 * record), its rows from the tables kept when it was published, which never change after.
 */
async function lockUpstream(
  db: Queryable,
  store: ObjectStore | undefined,
  alias: string,
  input: UpstreamInput,
): Promise<LockedUpstream> {
  const fail = (why: string) => new BuildError(`input "${alias}": ${why}`, { step: 'plan' });
  if (!store) throw fail(`reads product "${input.product}", and no object store was given to read it from`);
  let published: Awaited<ReturnType<typeof readPublishedVersion>>;
  try {
    published = await readPublishedVersion(store, input.product, input.version);
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    throw fail(
      input.version === 'latest'
        ? `product "${input.product}" has published no version yet; build it first (strata build ${input.product}, or strata build ${input.product} --downstream)`
        : `product "${input.product}" has no version "${input.version}" (see: strata versions ${input.product})`,
    );
  }
  const { manifest } = published;
  const file = manifest.outputs.find((o) => o.name === input.output);
  if (!file)
    throw fail(`version ${manifest.version} of product "${input.product}" has no output "${input.output}"`);
  const schema = productVersionSchema(input.product, manifest.version);
  if (!(await keptTableExists(db, schema, file.table)))
    throw fail(
      `the tables of version ${manifest.version} of product "${input.product}" are not in this database (published before products could read it, or dropped by strata gc); build ${input.product} again to publish a version that keeps them`,
    );
  return {
    alias,
    product: input.product,
    output: input.output,
    requested: input.version,
    version: manifest.version,
    sha256: published.sha256,
    schema,
    table: file.table,
    rows: file.rows,
  };
}
