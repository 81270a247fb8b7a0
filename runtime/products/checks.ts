import type { Check } from '../catalog/schema.ts';
import type { CheckResult } from '../errors.ts';
import type { Queryable } from '../ports/database.ts';
import { trimSample } from '../qa/sample.ts';
import { ident, literal } from '../util/sql.ts';

const SAMPLE_ROWS = 5;

export function checkName(c: Check): string {
  if (c.name) return c.name;
  switch (c.type) {
    case 'not_null':
    case 'unique':
      return `${c.table}.${c.type}(${c.columns.join(',')})`;
    default:
      return `${c.table}.${c.type}`;
  }
}

/** The rows that break a check, as a query over the build schema (on the search_path). */
function violations(c: Check): string {
  const t = ident(c.table);
  switch (c.type) {
    case 'not_null':
      return `SELECT * FROM ${t} WHERE ${c.columns.map((col) => `${ident(col)} IS NULL`).join(' OR ')}`;
    case 'unique': {
      const cols = c.columns.map(ident).join(', ');
      return `SELECT ${cols}, count(*)::int AS copies FROM ${t} GROUP BY ${cols} HAVING count(*) > 1`;
    }
    case 'geometry_valid':
      return `SELECT *, ST_IsValidReason(${ident(c.column)}) AS invalid_reason FROM ${t} WHERE NOT ST_IsValid(${ident(c.column)})`;
    case 'within_bbox': {
      const [x1, y1, x2, y2] = c.bbox.map((n) => literal(n));
      return `SELECT * FROM ${t} WHERE ${ident(c.column)} IS NOT NULL AND NOT ST_CoveredBy(
        ST_Transform(${ident(c.column)}, ${c.srid}), ST_MakeEnvelope(${x1}, ${y1}, ${x2}, ${y2}, ${c.srid}))`;
    }
    case 'geometry_type':
      return `SELECT *, ST_GeometryType(${ident(c.column)}) AS found_type FROM ${t}
        WHERE ${ident(c.column)} IS NOT NULL AND ST_GeometryType(${ident(c.column)}) NOT IN (${c.types.map((x) => literal(`ST_${x}`)).join(', ')})`;
    case 'sql':
      return c.sql.trim().replace(/;\s*$/, '');
    case 'row_count':
      throw new Error('row_count has no violating rows');
  }
}

/**
 * Queries run as the product role through `strata.query_as_product` (sql/004_runs.sql), each row as jsonb:
 * a check's SQL comes from the catalog and may do no more than the product's own steps.
 */
export function productQueryable(db: Queryable): Queryable {
  return {
    async query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      if (params.length > 0) throw new Error('product queries take no parameters');
      const rows = await db.query<{ r: R | string }>('SELECT r FROM strata.query_as_product($1) r', [sql]);
      return rows.map((x) => (typeof x.r === 'string' ? (JSON.parse(x.r) as R) : x.r));
    },
    exec: async (sql: string) => {
      await db.query('SELECT strata.run_product_sql($1)', [sql]);
    },
  };
}

export async function runCheck(db: Queryable, c: Check): Promise<CheckResult> {
  const base = { name: checkName(c), type: c.type, table: c.table, severity: c.severity };
  if (c.type === 'row_count') {
    const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${ident(c.table)}`);
    const n = row!.n;
    const passed = (c.min === undefined || n >= c.min) && (c.max === undefined || n <= c.max);
    const bounds = [c.min !== undefined ? `>= ${c.min}` : '', c.max !== undefined ? `<= ${c.max}` : '']
      .filter(Boolean)
      .join(' and ');
    return {
      ...base,
      passed,
      count: n,
      message: `${n} rows${bounds ? `, expected ${bounds}` : ''}`,
      sample: [],
    };
  }
  const v = violations(c);
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${v}) v`);
  const n = row!.n;
  const sample =
    n === 0
      ? []
      : (
          await db.query<{ r: Record<string, unknown> }>(
            `SELECT to_jsonb(v) AS r FROM (${v}) v LIMIT ${SAMPLE_ROWS}`,
          )
        ).map((x) => trimSample(typeof x.r === 'string' ? JSON.parse(x.r) : x.r));
  const what = c.type === 'unique' ? 'duplicated key(s)' : 'offending row(s)';
  return { ...base, passed: n === 0, count: n, message: n === 0 ? 'ok' : `${n} ${what}`, sample };
}
