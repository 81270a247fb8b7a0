import { resolve } from 'node:path';
import { imageCached } from '../../runtime/adapters/local/pglite-image.ts';
import { packCatalog } from '../../runtime/catalog-files/bundle.ts';
import { type Catalog, loadUsableCatalog } from '../../runtime/catalog-files/loader.ts';
import { requireDataset } from '../../runtime/jobs/ingest.ts';
import { createsEmbeddedDatabase, openLocalPlatform, strataHome } from '../../runtime/platform/local.ts';
import type { Platform } from '../../runtime/platform/platform.ts';
import { requireProduct } from '../../runtime/products/plan.ts';
import { firstRunNotice } from './first-run.ts';
import { say } from './output.ts';

/** Wraps a command body so its result becomes the exit code and its error a message (see bin/strata.ts). */
export type Action = <A extends unknown[]>(
  fn: (...args: A) => Promise<number | undefined>,
) => (...args: A) => Promise<void>;

export interface GlobalOptions {
  readonly catalog: string;
  readonly home?: string;
  readonly json?: boolean;
}

/**
 * The usable part of the catalog: a dataset or product with problems is left out (a command that needs it
 * says why), and the rest works. People are told once that something was left out.
 */
export async function openCatalog(opts: GlobalOptions): Promise<Catalog> {
  const { catalog, issues } = await loadUsableCatalog(resolve(opts.catalog));
  if (issues.length > 0 && !opts.json) {
    const files = [...new Set(issues.map((i) => i.file))];
    say(
      `warning: ${issues.length} catalog problem(s) in ${files.join(', ')}; what they touch is left out (strata validate lists them)`,
    );
  }
  return catalog;
}

/** What a command works on: checked before the database is opened, so a refusal costs no database start. */
export interface Needs {
  readonly dataset?: string;
  readonly product?: string;
}

/** Opens the catalog and the local platform for one command, and closes the platform after it. */
export async function withPlatform<T>(
  opts: GlobalOptions & { needs?: Needs; connections?: number },
  fn: (p: Platform, catalog: Catalog) => Promise<T>,
): Promise<T> {
  // With its hash, so every run records which catalog it worked with.
  const catalog = { ...(await openCatalog(opts)), sha256: packCatalog(resolve(opts.catalog)).sha256 };
  if (opts.needs?.dataset !== undefined) requireDataset(catalog, opts.needs.dataset);
  if (opts.needs?.product !== undefined) requireProduct(catalog, opts.needs.product);
  const p = await withFirstRunNotice(opts, () =>
    openLocalPlatform({ home: opts.home, connections: opts.connections }),
  );
  try {
    return await fn(p, catalog);
  } finally {
    await p.close();
  }
}

/** Opens something that opens the database, saying so while the first run creates the embedded one. */
export async function withFirstRunNotice<T>(opts: GlobalOptions, open: () => Promise<T>): Promise<T> {
  if (!createsEmbeddedDatabase({ home: opts.home })) return open();
  const notice = firstRunNotice(strataHome(opts.home), await imageCached());
  let opened = false;
  try {
    const value = await open();
    opened = true;
    return value;
  } finally {
    await notice.stop(opened);
  }
}
