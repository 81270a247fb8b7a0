import { CopyRejectedError } from '../ports/database.ts';

interface PgLikeError {
  message: string;
  where?: string;
  code?: string;
  column?: string;
  constraint?: string;
}

/** Reads PostgreSQL's `COPY t, line 5, column lon: "abc"` context into a record number and column. */
export function copyRejected(error: unknown, lineOffset = 0): unknown {
  const e = error as PgLikeError;
  if (typeof e?.message !== 'string' || typeof e.where !== 'string') return error;
  const m = /COPY [^,]+, line (\d+)(?:, column ([^:]+))?/.exec(e.where);
  if (!m) return error;
  return new CopyRejectedError(e.message, Number(m[1]) + lineOffset, m[2] ?? e.column, e.code, e.constraint);
}

/** Quotes a value the way PostgreSQL's CSV COPY does, so both engines write identical bytes. */
export function csvField(value: string | null, single: boolean): string {
  if (value === null) return '';
  if (value === '' || /[",\n\r]/.test(value) || (single && value === '\\.'))
    return `"${value.replace(/"/g, '""')}"`;
  return value;
}
