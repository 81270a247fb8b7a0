import { resolve } from 'node:path';
import { openCatalog } from '../../runtime/catalog/bundle.ts';
import type { Catalog } from '../../runtime/catalog/loader.ts';
import { openLocalPlatform, type Platform } from '../../runtime/platform.ts';

export interface GlobalOptions {
  readonly catalog: string;
  readonly home?: string;
  readonly json?: boolean;
}

/** Opens the catalog and the local platform for one command, and closes the platform after it. */
export async function withPlatform<T>(
  opts: GlobalOptions,
  fn: (p: Platform, catalog: Catalog) => Promise<T>,
): Promise<T> {
  // Opened with its hash, so every run records which catalog it worked with.
  const catalog = await openCatalog(resolve(opts.catalog));
  const p = await openLocalPlatform({ home: opts.home });
  try {
    return await fn(p, catalog);
  } finally {
    await p.close();
  }
}
