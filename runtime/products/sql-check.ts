import { randomBytes } from 'node:crypto';
import {
  type Dataset,
  isUpstreamInput,
  outputName,
  type ProductEntry,
  type UpstreamInput,
} from '../catalog/schema.ts';
import { type Catalog, formatPath, locateInFile } from '../catalog-files/loader.ts';
import { splitStatements } from '../db/split-statements.ts';
import type { CatalogIssue, CatalogSubject } from '../errors.ts';
import { createTableSQL } from '../load/table.ts';
import type { Database } from '../ports/database.ts';
import { ident, qualified } from '../util/sql.ts';
import { sqlPosition } from '../util/sql-position.ts';
import { runCheck } from './checks.ts';

/** Thrown to roll a check's transaction back: nothing it made is ever kept. */
class RollBack extends Error {}

/**
 * A dataset's stand-in: the table a load makes (declared columns, constraints, `geom` of the declared type
 * and SRID), as it is once loaded: a GeoJSON dataset's geometry is in its target SRID by then.
 */
function standIn(dataset: Dataset): Dataset {
  const g = dataset.geometry;
  return g.kind === 'geojson' ? { ...dataset, geometry: { ...g, sourceSrid: g.targetSrid } } : dataset;
}

/** Each statement of a step with where it starts in the file, so an error is placed in the file, not the statement. */
function statementsOf(sql: string): { text: string; offset: number }[] {
  let cursor = 0;
  return splitStatements(sql).map((text) => {
    const offset = sql.indexOf(text, cursor);
    cursor = offset + text.length;
    return { text, offset };
  });
}

/** The database's message, with its hint when it has one ("Perhaps you meant to reference the column ..."). */
function dbMessage(e: unknown): string {
  const { message, hint } = (e ?? {}) as { message?: unknown; hint?: unknown };
  return `${String(message ?? e)}${hint ? ` (${String(hint)})` : ''}`;
}

/** The table an upstream input's output is made from, in its product's catalog entry. */
function outputTable(catalog: Catalog, input: UpstreamInput): string {
  const outputs = catalog.products.get(input.product)?.product.outputs ?? [];
  return outputs.find((o) => outputName(o) === input.output)?.table ?? input.output;
}

/**
 * Makes the stand-ins of a product's inputs in `schema`: a dataset's table as a load makes it, empty; an
 * upstream product's output as its own SQL makes it from stand-ins of its inputs (in a schema of its own,
 * once per product, in the same rolled-back transaction), emptied. False when an upstream's SQL fails.
 */
async function createStandIns(
  db: Database,
  catalog: Catalog,
  entry: ProductEntry,
  schema: string,
  made: Map<string, string | undefined>,
): Promise<boolean> {
  for (const [alias, input] of Object.entries(entry.product.inputs)) {
    if (!isUpstreamInput(input)) {
      const dataset = catalog.datasets.get(input.dataset);
      if (dataset) await db.exec(createTableSQL(standIn(dataset), alias, schema));
      continue;
    }
    if (!made.has(input.product))
      made.set(input.product, await runUpstream(db, catalog, input.product, made));
    const from = made.get(input.product);
    if (!from) return false;
    await db.exec(
      `CREATE TABLE ${qualified(schema, alias)} AS SELECT * FROM ${qualified(from, outputTable(catalog, input))} LIMIT 0`,
    );
  }
  return true;
}

/** Runs an upstream product's SQL on stand-ins of its own inputs; the schema it made, or undefined. */
async function runUpstream(
  db: Database,
  catalog: Catalog,
  name: string,
  made: Map<string, string | undefined>,
): Promise<string | undefined> {
  const entry = catalog.products.get(name);
  if (!entry) return undefined;
  const schema = `strata_validate_${randomBytes(6).toString('hex')}`;
  await db.exec(`CREATE SCHEMA ${ident(schema)}`);
  if (!(await createStandIns(db, catalog, entry, schema, made))) return undefined;
  // In a savepoint: a failing statement leaves the transaction usable for the product being checked.
  return db
    .transaction(async () => {
      await db.exec(`SET LOCAL search_path TO ${ident(schema)}, public`);
      for (const step of entry.steps)
        for (const statement of statementsOf(step.sql)) await db.exec(statement.text);
      return schema;
    })
    .catch(() => undefined);
}

/**
 * Checks a product's SQL with PostgreSQL's own parser and planner, on nothing: its steps run in order against
 * empty stand-ins of its inputs in a throwaway schema, so a step that reads an earlier step's table finds
 * it; then its checks' queries and its outputs' tables and columns. All of it in one transaction that is
 * always rolled back. Returns the problems with file, line and column: the first failing statement (what
 * follows it would only fail for want of it), and every check and output that does not run. An input read
 * from another product stands in with what that product's own SQL makes (runUpstream); a product reading one
 * whose SQL fails is not checked beyond that (the upstream's own check names the problem).
 */
export async function checkProductSql(
  db: Database,
  catalog: Catalog,
  entry: ProductEntry,
): Promise<CatalogIssue[]> {
  const product = entry.product;
  const subject: CatalogSubject = { kind: 'product', name: product.name };
  const yamlFile = `products/${product.name}/product.yaml`;
  const inYaml = async (path: PropertyKey[], message: string): Promise<CatalogIssue> => ({
    file: yamlFile,
    ...(await locateInFile(catalog.dir, yamlFile, path)),
    path: formatPath(path),
    message,
    subject,
  });
  const found: CatalogIssue[] = [];
  const schema = `strata_validate_${randomBytes(6).toString('hex')}`;
  try {
    await db.transaction(async () => {
      await db.exec(`CREATE SCHEMA ${ident(schema)}`);
      // Local to the transaction, as everything here: a runaway query on empty tables is a problem too.
      await db.exec(`SET LOCAL statement_timeout = '60s'`);
      // An upstream whose own SQL does not run has nothing to stand in with: its own check says why.
      if (!(await createStandIns(db, catalog, entry, schema, new Map()))) throw new RollBack();
      await db.exec(`SET LOCAL search_path TO ${ident(schema)}, public`);
      for (const step of entry.steps) {
        for (const statement of statementsOf(step.sql)) {
          try {
            await db.exec(statement.text);
          } catch (e) {
            const at =
              sqlPosition(step.sql, statement.offset + Number((e as { position?: unknown }).position)) ??
              sqlPosition(step.sql, statement.offset + 1);
            found.push({
              file: `products/${product.name}/${step.file}`,
              ...at,
              path: '',
              message: dbMessage(e),
              subject,
            });
            throw new RollBack();
          }
        }
      }
      for (const [i, check] of product.checks.entries()) {
        // Each in a savepoint: one that fails leaves the others to be tried.
        await db
          .transaction(() => runCheck(db, check))
          .catch(async (e: unknown) => {
            found.push(await inYaml(['checks', i], `the check does not run: ${dbMessage(e)}`));
          });
      }
      for (const [i, output] of product.outputs.entries()) {
        const columns = (output.orderBy ?? []).map((c) => `t.${ident(c)}`).join(', ');
        await db
          .transaction(() => db.query(`SELECT ${columns} FROM ${ident(output.table)} t LIMIT 0`))
          .catch(async (e: unknown) => {
            found.push(await inYaml(['outputs', i], `the output cannot be read: ${dbMessage(e)}`));
          });
      }
      throw new RollBack();
    });
  } catch (e) {
    if (!(e instanceof RollBack)) throw e;
  }
  return found;
}
