import type { Queryable } from '../ports/database.ts';
import { ident, literal, qualified } from '../util/sql.ts';

/*
 * A published product version's tables, kept in the database so that products reading it do not parse its
 * files again: the schema `"<product>@<version>"` (at most 30 + 1 + 28 characters, within PostgreSQL's 63),
 * one table per output table, made when the version is published and never written after. This module owns
 * those schemas: it makes them, answers whether one is there, lists them and drops them for `strata gc`.
 * The published files in the egress bucket stay the record; a kept schema is the database's copy of them.
 */

/** The role product SQL runs as (sql/004_runs.sql): it may read kept versions, never write them. */
export const PRODUCT_ROLE = 'strata_product';

export const productVersionSchema = (product: string, version: string): string => `${product}@${version}`;

/** What Strata writes in a kept version's schema comment, to find and judge it again. */
export interface KeptVersion {
  readonly schema: string;
  readonly product: string;
  readonly version: string;
  readonly runId: string;
}

/**
 * Copies a build's output tables into its version's own schema, owned by the platform and readable by the
 * product role. A copy (not a move) so that the kept tables are plain tables the platform owns, with none of
 * what the product's SQL hung on them (triggers, defaults reading its sequences, partitions in the build
 * schema). Done before the version is registered: a publish that fails after it leaves a schema no version
 * names, which `strata gc` drops.
 */
export async function keepVersionTables(
  db: Queryable,
  v: { buildSchema: string; product: string; version: string; runId: string; tables: readonly string[] },
): Promise<string> {
  const schema = productVersionSchema(v.product, v.version);
  const meta: Omit<KeptVersion, 'schema'> = { product: v.product, version: v.version, runId: v.runId };
  // The version id is new to this attempt of the run, so there is nothing published here to keep.
  await db.query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`);
  await db.query(`CREATE SCHEMA ${ident(schema)}`);
  await db.query(`COMMENT ON SCHEMA ${ident(schema)} IS ${literal(JSON.stringify({ kept: meta }))}`);
  for (const table of new Set(v.tables))
    await db.query(
      `CREATE TABLE ${qualified(schema, table)} AS SELECT * FROM ${qualified(v.buildSchema, table)}`,
    );
  await db.query(`GRANT USAGE ON SCHEMA ${ident(schema)} TO ${PRODUCT_ROLE}`);
  await db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${ident(schema)} TO ${PRODUCT_ROLE}`);
  return schema;
}

/** Whether a kept version holds `table`. */
export async function keptTableExists(db: Queryable, schema: string, table: string): Promise<boolean> {
  const [row] = await db.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname = $2) AS found`,
    [schema, table],
  );
  return Boolean(row?.found);
}

/** Every kept version schema, with what its comment says of it. */
export async function listKeptVersions(db: Queryable): Promise<KeptVersion[]> {
  const rows = await db.query<{ schema: string; comment: string | null }>(
    `SELECT n.nspname AS schema, obj_description(n.oid, 'pg_namespace') AS comment
     FROM pg_namespace n WHERE n.nspname LIKE '%@%'`,
  );
  return rows.flatMap((r) => {
    try {
      const kept = (JSON.parse(r.comment ?? '') as { kept?: Omit<KeptVersion, 'schema'> }).kept;
      return kept?.product && kept.version ? [{ schema: r.schema, ...kept }] : [];
    } catch {
      return []; // not one of ours
    }
  });
}

/** Drops a kept version's tables; its published files stay in the egress bucket. */
export async function dropKeptVersion(db: Queryable, schema: string): Promise<void> {
  await db.query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`);
}
