import { createHash } from 'node:crypto';
import { firstAt, MAX_POSITIONS, type Position, type Problem, type Rule } from '../archive/receipt.ts';
import { minRowsOf } from '../catalog/contract.ts';
import type { Column, ColumnType, Dataset } from '../catalog/schema.ts';
import { sourceName } from '../load/table.ts';

/** A value as a receipt shows it: at most 80 characters. */
export const cut = (s: string) => (s.length > 80 ? `${s.slice(0, 77)}...` : s);

/** What a row is called in a dataset's files. */
export const nounOf = (dataset: Dataset) => (dataset.format === 'csv' ? 'row' : 'feature');

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** "312 rows with a non-numeric population, first at lines 5000, 5012, ..." */
export function problem(
  rule: Rule,
  count: number,
  what: string,
  at: Position[],
  noun: string,
  column?: string,
): Problem {
  const where = firstAt(at, count);
  return {
    rule,
    ...(column ? { column } : {}),
    count,
    message: `${plural(count, noun)} ${what}${where ? `, ${where}` : ''}`,
    at: at.slice(0, MAX_POSITIONS),
  };
}

/** A problem of the file as a whole (too few rows, a column emptied): counted once, with no position. */
export function fileProblem(rule: Rule, message: string, column?: string): Problem {
  return { rule, ...(column ? { column } : {}), count: 1, message, at: [] };
}

/** "with a non-numeric population": why a value is not of its column's type. */
export function typeProblem(type: ColumnType, column: string): string {
  switch (type) {
    case 'integer':
    case 'bigint':
    case 'numeric':
    case 'double':
      return `with a non-numeric ${column}`;
    case 'boolean':
      return `with a ${column} that is not true or false`;
    case 'date':
      return `with a ${column} that is not a date`;
    case 'timestamp':
      return `with a ${column} that is not a timestamp`;
    case 'json':
      return `with a ${column} that is not valid JSON`;
    default:
      return `with an unreadable ${column}`;
  }
}

/** The columns a geometry is built from, which its `required` makes required too. */
export function geometryColumns(dataset: Dataset): string[] {
  const g = dataset.geometry;
  return g.kind === 'lonlat' ? [g.lon, g.lat] : g.kind === 'wkt' ? [g.column] : [];
}

export function isRequired(dataset: Dataset, c: Column): boolean {
  const g = dataset.geometry;
  return c.required || (g.kind !== 'none' && g.required && geometryColumns(dataset).includes(c.name));
}

/** The current version, as the change limits compare a file with it. */
export interface CurrentFacts {
  readonly version: string;
  readonly rows: number;
  /** Non-null values per column: only when the contract refuses a removed column. */
  readonly nonNull?: Readonly<Record<string, number>>;
}

/** What the rules of the whole file need to know of it. */
export interface FileFacts {
  readonly rows: number;
  readonly nonNull?: Readonly<Record<string, number>>;
}

/** Percent change from `before` to `after`; null when there was nothing before. */
export function percentChange(before: number, after: number): number | null {
  return before === 0 ? null : ((after - before) / before) * 100;
}

const pct = (n: number) => `${Math.round(Math.abs(n) * 10) / 10}%`;

/** The contract's rules of the file as a whole: row-count bounds and change limits against the current version. */
export function tableProblems(dataset: Dataset, file: FileFacts, current?: CurrentFacts): Problem[] {
  const out: Problem[] = [];
  const noun = nounOf(dataset);
  const min = minRowsOf(dataset);
  if (file.rows < min)
    out.push(
      fileProblem(
        'min_rows',
        file.rows === 0
          ? `the file has no ${noun}s; dataset "${dataset.name}" needs at least ${plural(min, noun)} (minRows; \`allowEmpty: true\` accepts an empty file)`
          : `the file has ${plural(file.rows, noun)}; dataset "${dataset.name}" needs at least ${min} (minRows)`,
      ),
    );
  if (dataset.maxRows !== undefined && file.rows > dataset.maxRows)
    out.push(
      fileProblem(
        'max_rows',
        `the file has ${plural(file.rows, noun)}; dataset "${dataset.name}" takes at most ${dataset.maxRows} (maxRows)`,
      ),
    );
  const limits = dataset.change;
  if (!current || !limits) return out;
  const change = percentChange(current.rows, file.rows);
  if (change !== null && limits.maxFewerRows !== undefined && -change > limits.maxFewerRows)
    out.push(
      fileProblem(
        'fewer_rows',
        `the file has ${plural(file.rows, noun)}, ${pct(change)} fewer than the current version ${current.version} (${current.rows}); change.maxFewerRows allows ${limits.maxFewerRows}%`,
      ),
    );
  if (change !== null && limits.maxMoreRows !== undefined && change > limits.maxMoreRows)
    out.push(
      fileProblem(
        'more_rows',
        `the file has ${plural(file.rows, noun)}, ${pct(change)} more than the current version ${current.version} (${current.rows}); change.maxMoreRows allows ${limits.maxMoreRows}%`,
      ),
    );
  if (limits.columnRemoved === 'refuse' && file.nonNull && current.nonNull)
    for (const c of dataset.columns)
      if ((current.nonNull[c.name] ?? 0) > 0 && (file.nonNull[c.name] ?? 0) === 0)
        out.push(
          fileProblem(
            'column_removed',
            `column "${sourceName(c)}" is empty in the file but has values in the current version ${current.version} (change.columnRemoved: refuse)`,
            sourceName(c),
          ),
        );
  return out;
}

/** Whether the contract needs each column's count of values (to tell a removed column). */
export const needsNonNull = (dataset: Dataset) => dataset.change?.columnRemoved === 'refuse';

/**
 * SQL true where the geometry `g` is invalid, or undefined where nothing can be: a point made from lon/lat in
 * WGS84 is valid whenever its range checks pass, which the table enforces. A point's only way to be invalid
 * is a coordinate that is not a finite number, which is cheaper to ask than ST_IsValid (a GEOS call a row).
 */
export function invalidGeometrySql(dataset: Dataset, g: string): string | undefined {
  const geometry = dataset.geometry;
  if (geometry.kind === 'none') return undefined;
  if (geometry.kind === 'lonlat')
    return geometry.sourceSrid === 4326
      ? undefined
      : `NOT (abs(ST_X(${g})) < 'Infinity' AND abs(ST_Y(${g})) < 'Infinity')`;
  return `NOT ST_IsValid(${g})`;
}

/** Why PostGIS finds `g` invalid, as SQL. */
export function invalidReasonSql(dataset: Dataset, g: string): string {
  return dataset.geometry.kind === 'lonlat'
    ? `'a coordinate is not a finite number'`
    : `ST_IsValidReason(${g})`;
}

/** JSON with every object's keys in order: the same definition always makes the same text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/**
 * The sha256 of a dataset's definition as the catalog loaded it, defaults applied: what a file is judged
 * against. A change anywhere in it (a rule, a column, the geometry) changes the hash; nothing else in the
 * catalog does, so a new product never sends quarantined files to be judged again.
 */
export function contractHash(dataset: Dataset): string {
  return createHash('sha256').update(canonical(dataset)).digest('hex');
}
