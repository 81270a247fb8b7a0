import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type Catalog, loadCatalogOrThrow } from '../../runtime/catalog-files/loader.ts';

export interface CatalogSpec {
  readonly datasets?: Record<string, Record<string, unknown>>;
  readonly products?: Record<string, { product: Record<string, unknown>; sql: Record<string, string> }>;
}

/** Writes a catalog as YAML files, the way a user would, and loads it through the real loader. */
export async function writeCatalog(dir: string, spec: CatalogSpec): Promise<Catalog> {
  await mkdir(join(dir, 'datasets'), { recursive: true });
  await mkdir(join(dir, 'products'), { recursive: true });
  for (const [name, doc] of Object.entries(spec.datasets ?? {}))
    await writeFile(join(dir, 'datasets', `${name}.yaml`), stringify({ name, ...doc }));
  for (const [name, { product, sql }] of Object.entries(spec.products ?? {})) {
    await mkdir(join(dir, 'products', name), { recursive: true });
    await writeFile(join(dir, 'products', name, 'product.yaml'), stringify({ name, ...product }));
    for (const [file, text] of Object.entries(sql)) await writeFile(join(dir, 'products', name, file), text);
  }
  return loadCatalogOrThrow(dir);
}

/**
 * The smallest catalog the command-line tests build on: `places` (id, name; no geometry), and `summary`, a
 * product that counts them into the table `table`.
 */
export function writePlacesCatalog(dir: string, table = 'n'): Promise<Catalog> {
  return writeCatalog(dir, {
    datasets: {
      places: {
        format: 'csv',
        columns: [
          { name: 'id', type: 'integer' },
          { name: 'name', type: 'text' },
        ],
        geometry: { kind: 'none' },
      },
    },
    products: {
      summary: {
        product: { inputs: { places: 'places' }, outputs: [{ table, formats: ['csv'] }] },
        sql: { [`010_${table}.sql`]: `CREATE TABLE ${table} AS SELECT count(*)::int AS n FROM places;` },
      },
    },
  });
}

/** A CSV of `rows` places for that catalog, each named after the file: `<dir>/<name>`. */
export async function writePlacesCsv(dir: string, name: string, rows: number): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `id,name\n${Array.from({ length: rows }, (_, i) => `${i},${name}`).join('\n')}\n`);
  return file;
}
