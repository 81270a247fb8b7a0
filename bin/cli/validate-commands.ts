import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadCatalog } from '../../runtime/catalog/loader.ts';
import { formatIssue } from '../../runtime/errors.ts';
import type { Action, GlobalOptions } from './context.ts';
import { EXIT, printJson, say } from './output.ts';

export function registerValidateCommand(
  program: Command,
  globals: () => GlobalOptions,
  action: Action,
): void {
  program
    .command('validate')
    .description(
      'check every dataset and product in the catalog; lists every problem with its file, line and column',
    )
    .option('--no-sql', "do not check the products' SQL against the database")
    .action(
      action(async () => {
        const g = globals();
        const { catalog, issues } = await loadCatalog(resolve(g.catalog));
        if (g.json)
          printJson({
            ok: issues.length === 0,
            datasets: [...catalog.datasets.keys()],
            products: [...catalog.products.keys()],
            issues,
          });
        else if (issues.length === 0)
          say(
            `catalog ${g.catalog} is valid: ${catalog.datasets.size} dataset(s), ${catalog.products.size} product(s)`,
          );
        else {
          for (const i of issues) process.stdout.write(`${formatIssue(i)}\n`);
          say(`${issues.length} problem(s) in ${g.catalog}`);
        }
        return issues.length === 0 ? EXIT.ok : EXIT.invalid;
      }),
    );
}
