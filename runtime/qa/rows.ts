import { StringDecoder } from 'node:string_decoder';
import { ident } from '../util/sql.ts';
import type { TableColumn } from './stats.ts';

/**
 * How a table's rows are fingerprinted, as SQL over its columns. A version keeps the sorted list of its rows'
 * fingerprints (`qa-rows/<output>.tsv`: key, row hash, and the key as JSON when the key is hashed), and the
 * next version streams its own list past it: a merge of two sorted lists, in constant memory, with no previous
 * row loaded anywhere.
 */
export interface Fingerprint {
  /** bigint: the hash of every column, sorted by name. */
  readonly row: string;
  /** bigint: the key itself when it is one integer column, else the hash of its columns. */
  readonly key: string | null;
  /** text: the key as JSON, for people; null when the key is an integer (it says itself) or absent. */
  readonly keyText: string | null;
  readonly keyEncoding: 'integer' | 'hash' | null;
  /** `name type` of every column hashed, sorted by name. */
  readonly columns: string[];
}

/** Every column as a value with a 64-bit hash: geometry by its EWKB, types with no hash function as text. */
function hashable(c: TableColumn): string {
  const col = `t.${ident(c.name)}`;
  if (c.base === 'geometry') return `${col}::bytea`;
  if (c.base === 'geography') return `${col}::geometry::bytea`;
  return c.hashable ? col : `${col}::text`;
}

const INTEGERS = new Set(['int2', 'int4', 'int8']);

/**
 * A key of one integer column is written as it is (the common `id`; a null one as `null`, after every
 * number, where PostgreSQL sorts it): half the bytes of a hash and its JSON, and nothing to hash. Any other
 * key is hashed.
 */
export function fingerprint(columns: readonly TableColumn[], key: readonly string[] | null): Fingerprint {
  const sorted = [...columns].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const row = `hash_record_extended(ROW(${sorted.map(hashable).join(', ')}), 0)`;
  const signature = sorted.map((c) => `${c.name} ${c.type}`);
  if (!key) return { row, key: null, keyText: null, keyEncoding: null, columns: signature };
  const keyColumns = key.map((k) => columns.find((c) => c.name === k)!);
  if (keyColumns.length === 1 && INTEGERS.has(keyColumns[0]!.base))
    return {
      row,
      key: `t.${ident(key[0]!)}::bigint`,
      keyText: null,
      keyEncoding: 'integer',
      columns: signature,
    };
  return {
    row,
    key: `hash_record_extended(ROW(${keyColumns.map(hashable).join(', ')}), 0)`,
    keyText:
      key.length === 1
        ? `coalesce(to_json(t.${ident(key[0]!)})::text, 'null')`
        : `json_build_array(${key.map((k) => `t.${ident(k)}`).join(', ')})::text`,
    keyEncoding: 'hash',
    columns: signature,
  };
}

/**
 * The row list of `table`, one line a row, sorted by key then row hash (as bigints). The fingerprint's SQL
 * names the table `t`; the sort names the subquery's columns (a bare `h` would be the output text).
 */
export function rowListSelect(table: string, f: Fingerprint): string {
  if (!f.key) return `SELECT h::text FROM (SELECT ${f.row} AS h FROM ${table} t) s ORDER BY s.h`;
  const text = f.keyText ? ` || E'\\t' || kt` : '';
  return `SELECT coalesce(kh::text, 'null') || E'\\t' || h::text${text} FROM (SELECT ${f.key} AS kh, ${f.row} AS h${f.keyText ? `, ${f.keyText} AS kt` : ''} FROM ${table} t) s ORDER BY s.kh, s.h`;
}

/** Splits a byte stream into lines, never cutting a UTF-8 character. */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';
  push(chunk: Buffer): string[] {
    const lines = (this.rest + this.decoder.write(chunk)).split('\n');
    this.rest = lines.pop()!;
    return lines;
  }
  end(): string[] {
    const last = this.rest + this.decoder.end();
    this.rest = '';
    return last ? [last] : [];
  }
}

/** Reads lines from a stream a batch at a time; `fill()` is awaited only when a batch runs out. */
class LineCursor {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private readonly splitter = new LineSplitter();
  private lines: string[] = [];
  private i = 0;
  private done = false;
  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }
  get needsFill(): boolean {
    return this.i >= this.lines.length && !this.done;
  }
  /** The current line; undefined at the end (or before `fill()` when `needsFill`). */
  get line(): string | undefined {
    return this.lines[this.i];
  }
  next(): void {
    this.i++;
  }
  async fill(): Promise<void> {
    while (this.i >= this.lines.length && !this.done) {
      const r = await this.iterator.next();
      this.i = 0;
      if (r.done) {
        this.lines = this.splitter.end();
        this.done = true;
      } else this.lines = this.splitter.push(Buffer.from(r.value));
      this.lines = this.lines.filter((l) => l.length > 0);
    }
  }
}

/**
 * Orders two bigints written in decimal, as PostgreSQL orders them, without parsing either; `null` (a null
 * integer key) comes after every number.
 */
export function compareDecimal(a: string, b: string): number {
  if (a === b) return 0;
  if (a === 'null' || b === 'null') return a === 'null' ? 1 : -1;
  const negA = a.charCodeAt(0) === 45;
  const negB = b.charCodeAt(0) === 45;
  if (negA !== negB) return negA ? -1 : 1;
  const less = a.length !== b.length ? a.length < b.length : a < b;
  return less !== negA ? -1 : 1;
}

const fields = (line: string): [string, string, string | undefined] => {
  const t1 = line.indexOf('\t');
  if (t1 < 0) return [line, line, undefined];
  const t2 = line.indexOf('\t', t1 + 1);
  return t2 < 0
    ? [line.slice(0, t1), line.slice(t1 + 1), undefined]
    : [line.slice(0, t1), line.slice(t1 + 1, t2), line.slice(t2 + 1)];
};

/** A row list's key as a value: its JSON when hashed, else the integer key written as itself. */
function keyValue(key: string, text: string | undefined): unknown {
  if (text !== undefined) return JSON.parse(text);
  const n = Number(key);
  return key === 'null' ? null : Number.isSafeInteger(n) ? n : key;
}

export interface Mark {
  /** The key hash (or row hash, with no key), in decimal. */
  readonly key: string;
  readonly status: 'added' | 'changed';
}

export interface RowDiffResult {
  readonly rows: number;
  readonly added: number;
  readonly removed: number;
  /** Rows whose key (or, with no key, whose whole row) is in both lists. */
  readonly matched: number;
  /** Matched rows with different values; only counted when values are compared. */
  readonly changed: number;
  readonly duplicateKeys: number;
  /** The first added and changed rows, in list order, to highlight and to show. */
  readonly marks: Mark[];
  /** The keys (parsed from their JSON) of the first removed rows. */
  readonly removedKeys: unknown[];
  /** Every removed row's key fingerprint and key, when asked for (`keepRemoved`): what a change feed lists. */
  readonly removedRows?: { key: string; value: unknown }[];
}

export interface RowDiffOptions {
  /** Whether rows with one key are compared by value: not when the columns themselves changed. */
  readonly compareValues: boolean;
  readonly keyed: boolean;
  readonly maxMarks: number;
  readonly maxRemovedKeys: number;
  /** Keep every removed row's fingerprint and key too (a change feed), not only the first few keys. */
  readonly keepRemoved?: boolean;
}

/**
 * Merges the new row list, pushed in order, with the previous one, read as it goes. Without a previous list it
 * only counts the rows.
 */
export class RowListDiff {
  private readonly previous: LineCursor | undefined;
  private rows = 0;
  private added = 0;
  private removed = 0;
  private matched = 0;
  private changed = 0;
  private duplicateKeys = 0;
  private lastKey: string | undefined;
  private lastPreviousKey: string | undefined;
  private readonly marks: Mark[] = [];
  private readonly removedKeys: unknown[] = [];
  private readonly removedRows: { key: string; value: unknown }[] = [];

  constructor(
    previous: AsyncIterable<Uint8Array> | undefined,
    private readonly options: RowDiffOptions,
  ) {
    this.previous = previous ? new LineCursor(previous) : undefined;
  }

  private mark(key: string, status: Mark['status']): void {
    if (this.marks.length < this.options.maxMarks) this.marks.push({ key, status });
  }

  private drop(line: string): void {
    const [key, , text] = fields(line);
    this.removed++;
    if (this.options.keyed && key === this.lastPreviousKey) this.duplicateKeys++;
    this.lastPreviousKey = key;
    if (!this.options.keyed) return;
    const keep = this.options.keepRemoved;
    if (!keep && this.removedKeys.length >= this.options.maxRemovedKeys) return;
    const value = keyValue(key, text);
    if (this.removedKeys.length < this.options.maxRemovedKeys) this.removedKeys.push(value);
    if (keep) this.removedRows.push({ key, value });
  }

  async push(lines: readonly string[]): Promise<void> {
    const prev = this.previous;
    for (const line of lines) {
      if (line.length === 0) continue;
      this.rows++;
      const [key, hash] = fields(line);
      if (this.options.keyed && key === this.lastKey) this.duplicateKeys++;
      this.lastKey = key;
      if (!prev) continue;
      let matched = false;
      for (;;) {
        if (prev.needsFill) await prev.fill();
        const p = prev.line;
        if (p === undefined) break;
        const [pKey, pHash] = fields(p);
        const order = compareDecimal(pKey, key);
        if (order < 0) {
          this.drop(p);
          prev.next();
          continue;
        }
        if (order === 0) {
          matched = true;
          if (this.options.keyed && pKey === this.lastPreviousKey) this.duplicateKeys++;
          this.lastPreviousKey = pKey;
          prev.next();
          this.matched++;
          if (pHash !== hash && this.options.compareValues) {
            this.changed++;
            this.mark(key, 'changed');
          }
        }
        break;
      }
      if (!matched) {
        this.added++;
        this.mark(key, 'added');
      }
    }
  }

  /** Whatever is left of the previous list was removed. */
  async finish(): Promise<RowDiffResult> {
    const prev = this.previous;
    if (prev)
      for (;;) {
        if (prev.needsFill) await prev.fill();
        const p = prev.line;
        if (p === undefined) break;
        this.drop(p);
        prev.next();
      }
    return {
      rows: this.rows,
      added: this.added,
      removed: this.removed,
      matched: this.matched,
      changed: this.changed,
      duplicateKeys: this.duplicateKeys,
      marks: this.marks,
      removedKeys: this.removedKeys,
      ...(this.options.keepRemoved ? { removedRows: this.removedRows } : {}),
    };
  }
}

/** Passes a row list through (to be written) while the diff reads it line by line. */
export async function* diffing(source: AsyncIterable<Buffer>, diff: RowListDiff): AsyncGenerator<Buffer> {
  const splitter = new LineSplitter();
  for await (const chunk of source) {
    await diff.push(splitter.push(chunk));
    yield chunk;
  }
  await diff.push(splitter.end());
}
