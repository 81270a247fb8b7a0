import { resolve } from 'node:path';
import { loadCatalogOrThrow } from '../../runtime/catalog/loader.ts';
import type { CatalogSchedule } from '../constructs/triggers.ts';

/** Every dataset and product that declares a schedule: one EventBridge rule each. */
export async function catalogSchedules(dir: string): Promise<CatalogSchedule[]> {
  const catalog = await loadCatalogOrThrow(resolve(dir));
  const out: CatalogSchedule[] = [];
  for (const d of catalog.datasets.values())
    if (d.schedule) out.push({ kind: 'dataset', name: d.name, expression: d.schedule });
  for (const { product } of catalog.products.values())
    if (product.schedule) out.push({ kind: 'product', name: product.name, expression: product.schedule });
  return out;
}
