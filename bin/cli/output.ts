import cliProgress from 'cli-progress';
import { z } from 'zod';
import { StrataError } from '../../runtime/errors.ts';

/** Exit codes, documented in the README. */
export const EXIT = { ok: 0, failed: 1, invalid: 2, checkFailed: 3, notFound: 4, busy: 5 } as const;

export function exitCodeFor(code: string | undefined): number {
  switch (code) {
    case 'CATALOG_INVALID':
      return EXIT.invalid;
    case 'CHECK_FAILED':
      return EXIT.checkFailed;
    case 'NOT_FOUND':
      return EXIT.notFound;
    case 'CONFLICT':
      return EXIT.busy;
    default:
      return EXIT.failed;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain aligned table for people; scripts use --json. */
export function printTable(rows: Record<string, unknown>[], columns: string[]): void {
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    `${vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`;
  process.stdout.write(line(columns.map((c) => c.toUpperCase())));
  for (const r of rows) process.stdout.write(line(columns.map((c) => cell(r[c]))));
}

export function humanBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

/** Messages for people go to stderr, so stdout stays clean for --json. */
export function say(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Rows and bytes while a file loads; silent when stderr is not a terminal. */
/** One finished step of a run, as the command line prints it: name, milliseconds, what it did. */
export function stepLine(step: { name: string; ms?: number; detail?: string }): string {
  const line = `  ${step.name.padEnd(32)} ${String(step.ms ?? '').padStart(6)} ms  ${step.detail ?? ''}`;
  return line.trimEnd();
}

/** A step this long on the embedded database is where a server pays: said once a command. */
export const SLOW_STEP_MS = 60_000;
let hinted = false;

/**
 * The hint after a step that took over a minute on the embedded database (PGlite runs PostgreSQL in one
 * WebAssembly thread): a PostgreSQL + PostGIS server takes the same home with `strata db move`. Once a
 * process, and never on a server.
 */
export function slowStepHint(
  engine: 'pglite' | 'postgres',
  step: { name: string; ms?: number },
): string | undefined {
  if (engine !== 'pglite' || hinted || (step.ms ?? 0) < SLOW_STEP_MS) return undefined;
  hinted = true;
  return `hint: ${step.name} took ${Math.round((step.ms ?? 0) / 1000)} s on the embedded database, which works on one core; a PostgreSQL + PostGIS server uses every core for large joins and exports: strata db move --to postgres://… moves this home to one (docs/operations.md#moving-a-home-to-a-server)`;
}

/** Says a finished step (`line`, or its usual line), then the slow-step hint when it is due. */
export function sayStep(
  engine: 'pglite' | 'postgres',
  step: { name: string; ms?: number; detail?: string },
  line = stepLine(step),
): void {
  say(line);
  const hint = slowStepHint(engine, step);
  if (hint) say(hint);
}

export function loadProgressBar(enabled: boolean) {
  if (!enabled || !process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: '  load [{bar}] {percentage}% | {value_h}/{total_h} | {rows} rows',
      hideCursor: true,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p: { bytes: number; totalBytes: number; rows: number }) {
      if (!started) {
        bar.start(p.totalBytes, 0, { rows: 0, value_h: '0 B', total_h: humanBytes(p.totalBytes) });
        started = true;
      }
      bar.update(p.bytes, { rows: p.rows, value_h: humanBytes(p.bytes), total_h: humanBytes(p.totalBytes) });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

const pathText = (path: readonly PropertyKey[]) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');

/**
 * A schema's refusal as one sentence for people: where, and what is wrong there. zod's own message is its
 * issue array as JSON, which no one at a terminal should have to read.
 */
export function zodSentence(error: z.ZodError): string {
  const parts = error.issues.map((issue) => {
    const i = issue as z.core.$ZodIssue & { issues?: z.core.$ZodIssue[] };
    if (i.code === 'invalid_key') {
      // A record's key: name the key itself, and what a key must be.
      const key = String(i.path.at(-1));
      const where = pathText(i.path.slice(0, -1));
      const why = (i.issues ?? []).map((n) => n.message).join(', ') || i.message;
      return `"${key}" is not a valid name${where ? ` in ${where}` : ''}: it ${why}`;
    }
    if (i.code === 'unrecognized_keys')
      return `${pathText(i.path) || 'input'}: unknown key(s) ${i.keys.join(', ')}`;
    return i.path.length > 0 ? `${pathText(i.path)}: ${i.message}` : i.message;
  });
  return parts.join('; ');
}

/** An error's message for people: a zod refusal as a sentence, anything else as its message. */
export function errorMessage(error: unknown): string {
  if (error instanceof z.ZodError) return zodSentence(error);
  return String((error as Error)?.message ?? error);
}

/** Prints an error for people (one line, then detail) or as JSON, and returns the exit code. */
export function reportError(error: unknown, json: boolean): number {
  const code = error instanceof StrataError ? error.code : undefined;
  if (json) {
    printJson({
      ok: false,
      error: error instanceof StrataError ? error.toJSON() : { message: errorMessage(error) },
    });
  } else {
    say(`error: ${errorMessage(error)}`);
  }
  return exitCodeFor(code);
}
