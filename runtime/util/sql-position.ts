/**
 * Where PostgreSQL's error `position` (1-based, in characters of the statement it was given) falls in `sql`:
 * its line and column, 1-based. Undefined when the error has no position.
 */
export function sqlPosition(sql: string, position: unknown): { line: number; column: number } | undefined {
  const pos = Number(position);
  if (!Number.isFinite(pos) || pos < 1) return undefined;
  const lines = sql.slice(0, pos - 1).split('\n');
  return { line: lines.length, column: lines[lines.length - 1]!.length + 1 };
}
