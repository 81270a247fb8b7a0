import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { writeCatalog } from './catalog.ts';

/** A small catalog: `notes` (CSV, no geometry) and `copy`, a product that counts it at `latest`. */
export function notesCatalog(dir: string, extra: Parameters<typeof writeCatalog>[1] = {}): Promise<Catalog> {
  return writeCatalog(dir, {
    datasets: {
      notes: {
        format: 'csv',
        columns: [
          { name: 'id', type: 'integer' },
          { name: 'note', type: 'text' },
        ],
        geometry: { kind: 'none' },
      },
      ...extra.datasets,
    },
    products: {
      copy: {
        product: { inputs: { notes: 'notes' }, outputs: [{ table: 'out', formats: ['csv'] }] },
        sql: { '010_out.sql': 'CREATE TABLE out AS SELECT count(*)::int AS n FROM notes;' },
      },
      ...extra.products,
    },
  });
}

/** A CSV of `rows` notes; `tag` makes the bytes (and so the version) differ. */
export function notesCsv(rows: number, tag = ''): string {
  const lines = ['id,note'];
  for (let i = 1; i <= rows; i++) lines.push(`${i},note ${i}${tag}`);
  return `${lines.join('\n')}\n`;
}

export async function writeNotes(dir: string, name: string, rows: number, tag = ''): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, notesCsv(rows, tag));
  return path;
}
