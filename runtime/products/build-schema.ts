import { BuildError } from '../errors.ts';
import { DATASETS_SCHEMA } from '../load/table.ts';
import type { Database } from '../ports/database.ts';
import { isLockedUpstream, type LockedInput } from '../publish/manifest.ts';
import { PRODUCT_ROLE } from '../publish/tables.ts';
import { ident, literal, qualified } from '../util/sql.ts';

export { PRODUCT_ROLE };

/** Where a locked input's rows are: a dataset version's table, or a kept product version's. */
function relationOf(input: LockedInput): { schema: string; table: string } {
  return isLockedUpstream(input)
    ? { schema: input.schema, table: input.table }
    : { schema: DATASETS_SCHEMA, table: input.table };
}

/** `build_<product>_<run>`: at most 63 bytes, and says whose it is. */
export function buildSchemaName(product: string, runId: string): string {
  return `build_${product}_${runId.replace(/[TZ]/g, '').replace(/-/g, '_').toLowerCase()}`.slice(0, 63);
}

/** Gathers statistics for input tables that have none yet, so the product's SQL is planned on facts. */
export async function analyzeInputs(db: Database, inputs: readonly LockedInput[]): Promise<void> {
  for (const input of inputs) {
    const { schema, table } = relationOf(input);
    const [row] = await db.query<{ has: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM pg_stats WHERE schemaname = $1 AND tablename = $2) AS has',
      [schema, table],
    );
    if (!row?.has) await db.exec(`ANALYZE ${qualified(schema, table)}`);
  }
}

/**
 * Makes the build's own schema, where the product's SQL sees its inputs by alias (never by version) and may
 * create what it likes, and puts it first on the search path.
 */
export async function createBuildSchema(
  db: Database,
  build: { schema: string; product: string; runId: string; inputs: readonly LockedInput[] },
): Promise<void> {
  const { schema, product, runId, inputs } = build;
  // A retried run's earlier attempt may have left its schema (kept for inspection when it failed): this
  // attempt starts afresh.
  await db.exec(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`);
  await db.exec(`CREATE SCHEMA ${ident(schema)}`);
  await db.exec(
    `COMMENT ON SCHEMA ${ident(schema)} IS ${literal(JSON.stringify({ product, runId, createdAt: new Date().toISOString() }))}`,
  );
  for (const input of inputs) {
    const from = relationOf(input);
    await db.exec(
      `CREATE VIEW ${qualified(schema, input.alias)} AS SELECT * FROM ${qualified(from.schema, from.table)}`,
    );
  }
  await grantBuildSchema(db, schema, inputs);
  await db.exec(`SET search_path TO ${ident(schema)}, public`);
}

/** Hands the build schema to the product role: it may create there and read its inputs' views. */
async function grantBuildSchema(db: Database, schema: string, inputs: readonly LockedInput[]): Promise<void> {
  await db.exec(`GRANT USAGE, CREATE ON SCHEMA ${ident(schema)} TO ${PRODUCT_ROLE}`);
  await db.exec(`GRANT SELECT ON ALL TABLES IN SCHEMA ${ident(schema)} TO ${PRODUCT_ROLE}`);
  // A table moved into `datasets` from the loading schema missed the schema's default privileges.
  // (A kept product version's tables were granted when it was kept.)
  for (const input of inputs)
    if (!isLockedUpstream(input))
      await db.exec(`GRANT SELECT ON ${qualified(DATASETS_SCHEMA, input.table)} TO ${PRODUCT_ROLE}`);
}

/**
 * What the export reads must be plain data the product made: a table (not a view, whose functions would run
 * as the platform), with no row security policy, and no column of a type the product defined (whose casts
 * it could have written). Checked before anything is read as the platform's own user.
 */
export async function checkOutputsArePlainTables(
  db: Database,
  schema: string,
  tables: readonly string[],
): Promise<void> {
  for (const table of new Set(tables)) {
    const [rel] = await db.query<{ relkind: string; rls: boolean; own_types: number }>(
      `SELECT c.relkind::text AS relkind, c.relrowsecurity AS rls,
         (SELECT count(*)::int FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND t.typnamespace = n.oid) AS own_types
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [schema, table],
    );
    if (!rel) continue; // the export says which output no step created
    if (!['r', 'p', 'm'].includes(rel.relkind))
      throw new BuildError(
        `output "${table}" must be a table the product's SQL created, not a view or other relation`,
        {
          step: 'export',
        },
      );
    if (rel.rls)
      throw new BuildError(`output "${table}" has row level security; outputs are published whole`, {
        step: 'export',
      });
    if (Number(rel.own_types) > 0)
      throw new BuildError(
        `output "${table}" has a column of a type defined by the product's SQL; use built-in types`,
        {
          step: 'export',
        },
      );
  }
}
