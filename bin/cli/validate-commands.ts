import { resolve } from 'node:path';
import type { Command } from 'commander';
import { type Catalog, loadCatalog } from '../../runtime/catalog-files/loader.ts';
import { type CatalogIssue, ConflictError, formatIssue } from '../../runtime/errors.ts';
import { openDatabase } from '../../runtime/platform/local.ts';
import { checkProductSql } from '../../runtime/products/sql-check.ts';
import { type Action, type GlobalOptions, withFirstRunNotice } from './context.ts';
import { EXIT, printJson, say } from './output.ts';

interface SqlReport {
  /** Products whose SQL was run against stand-ins of their inputs. */
  readonly checked: readonly string[];
  /** Why it was not, when it was not. */
  readonly skipped?: string;
  readonly issues: readonly CatalogIssue[];
}

/**
 * The SQL of every usable product, checked on the database (the embedded one, or DATABASE_URL) in a
 * throwaway schema that is rolled back. With nothing to check, the database is not opened.
 */
async function checkSql(opts: GlobalOptions, catalog: Catalog): Promise<SqlReport> {
  const products = [...catalog.products.values()];
  if (products.length === 0) return { checked: [], skipped: 'no product to check', issues: [] };
  let db: Awaited<ReturnType<typeof openDatabase>>;
  try {
    db = await withFirstRunNotice(opts, () => openDatabase({ home: opts.home }));
  } catch (e) {
    // A serve holding the embedded database: say so rather than wait, or fail the catalog for it.
    if (e instanceof ConflictError) return { checked: [], skipped: e.message, issues: [] };
    throw e;
  }
  try {
    const issues: CatalogIssue[] = [];
    for (const entry of products) issues.push(...(await checkProductSql(db, catalog, entry)));
    return { checked: products.map((e) => e.product.name), issues };
  } finally {
    await db.close();
  }
}

export function registerValidateCommand(
  program: Command,
  globals: () => GlobalOptions,
  action: Action,
): void {
  program
    .command('validate')
    .description(
      "check every dataset and product in the catalog, and each product's SQL against empty stand-ins of its inputs; lists every problem with its file, line and column",
    )
    .option('--no-sql', "do not check the products' SQL (no database is opened)")
    .action(
      action(async (o: { sql: boolean }) => {
        const g = globals();
        const { catalog, issues: catalogIssues } = await loadCatalog(resolve(g.catalog));
        const sql: SqlReport = o.sql
          ? await checkSql(g, catalog)
          : { checked: [], skipped: 'not asked (--no-sql)', issues: [] };
        const issues = [...catalogIssues, ...sql.issues];
        if (g.json)
          printJson({
            ok: issues.length === 0,
            datasets: [...catalog.datasets.keys()],
            products: [...catalog.products.keys()],
            sql: { checked: sql.checked, ...(sql.skipped ? { skipped: sql.skipped } : {}) },
            issues,
          });
        else {
          for (const i of issues) process.stdout.write(`${formatIssue(i)}\n`);
          if (o.sql && sql.skipped && sql.checked.length === 0 && catalog.products.size > 0)
            say(`SQL not checked: ${sql.skipped}`);
          say(
            issues.length === 0
              ? `catalog ${g.catalog} is valid: ${catalog.datasets.size} dataset(s), ${catalog.products.size} product(s)${sql.checked.length > 0 ? `, SQL checked` : ''}`
              : `${issues.length} problem(s) in ${g.catalog}`,
          );
        }
        return issues.length === 0 ? EXIT.ok : EXIT.invalid;
      }),
    );
}
