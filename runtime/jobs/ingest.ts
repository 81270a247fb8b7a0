import { archiveFile, type Origin } from '../archive/archive.ts';
import { recordLoad } from '../archive/loads.ts';
import { type Catalog, unavailable } from '../catalog/loader.ts';
import { loadVersion } from '../load/load.ts';
import type { Platform } from '../platform.ts';
import type { JobHooks } from './hooks.ts';

export function requireDataset(catalog: Catalog, name: string) {
  const d = catalog.datasets.get(name);
  if (!d) throw unavailable(catalog, 'dataset', name);
  return d;
}

/** Archive a file as a dataset version (unless its bytes are already archived), then load it. */
export async function runIngest(
  p: Platform,
  catalog: Catalog,
  input: { dataset: string; path: string; filename: string; origin: Origin },
  hooks: JobHooks = {},
): Promise<{ result: Record<string, unknown>; lineage: Record<string, unknown> }> {
  const dataset = requireDataset(catalog, input.dataset);
  hooks.onStep?.({ name: 'archive', status: 'start' });
  let t = Date.now();
  const archived = await archiveFile(p.db, p.store, {
    dataset: dataset.name,
    path: input.path,
    filename: input.filename,
    origin: input.origin,
    maxBytes: dataset.maxBytes,
  });
  const v = archived.version;
  hooks.onStep?.({
    name: 'archive',
    status: 'done',
    ms: Date.now() - t,
    detail: archived.created
      ? `new version ${v.version}`
      : `same bytes as version ${v.version}: no new version`,
  });
  hooks.onStep?.({ name: 'load', status: 'start' });
  t = Date.now();
  const loaded = await loadVersion(p.db, p.store, dataset, v, { onProgress: hooks.onLoadProgress });
  // Lets `strata versions` answer from the archive; without the record it asks the database, so a failure
  // here costs speed, never truth, and does not fail a load that has committed.
  await recordLoad(p.db, p.store, dataset.name, v.version).catch(() => undefined);
  hooks.onStep?.({
    name: 'load',
    status: 'done',
    ms: Date.now() - t,
    detail: loaded.loaded
      ? `${loaded.rows} rows into datasets."${loaded.table}"${(loaded.copies ?? 1) > 1 ? ` (${loaded.copies} COPY statements at once)` : ''}`
      : 'already loaded',
  });
  return {
    result: {
      dataset: dataset.name,
      version: v.version,
      created: archived.created,
      ...(archived.created ? {} : { duplicateOf: v.version }),
      sha256: v.sha256,
      size: v.size,
      archiveKey: v.key,
      table: loaded.table,
      rows: loaded.rows,
      loaded: loaded.loaded,
      ...(loaded.copies ? { copies: loaded.copies } : {}),
    },
    lineage: { dataset: dataset.name, version: v.version, sha256: v.sha256, origin: v.origin },
  };
}
