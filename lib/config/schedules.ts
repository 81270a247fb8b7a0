import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import type { CatalogSchedule } from '../constructs/triggers.ts';

/** Every dataset and product of a catalog that declares a schedule: one EventBridge rule each. */
export function catalogSchedules(catalog: Catalog): CatalogSchedule[] {
  const out: CatalogSchedule[] = [];
  for (const d of catalog.datasets.values())
    if (d.schedule) out.push({ kind: 'dataset', name: d.name, expression: d.schedule });
  for (const { product } of catalog.products.values())
    if (product.schedule) out.push({ kind: 'product', name: product.name, expression: product.schedule });
  return out;
}
