import type { CopyChunk } from '../ports/database.ts';
import { countNewlines } from '../util/bytes.ts';

const QUOTE = 0x22;
const NEWLINE = 0x0a;

/**
 * Finds where CSV records end. A newline ends a record unless it is inside quotes; quote parity is what
 * PostgreSQL's own CSV reader uses, so a record here is a record to COPY (a doubled "" toggles twice).
 */
export class RecordScanner {
  private inQuote = false;

  /** Calls `onEnd` with the index just past each record's newline in `buf`. */
  scan(buf: Buffer, onEnd: (end: number) => void): void {
    const n = buf.length;
    let i = 0;
    let q = buf.indexOf(QUOTE, 0);
    while (i < n) {
      if (this.inQuote) {
        if (q !== -1 && q < i) q = buf.indexOf(QUOTE, i);
        if (q === -1) return;
        this.inQuote = false;
        i = q + 1;
        q = buf.indexOf(QUOTE, i);
        continue;
      }
      const nl = buf.indexOf(NEWLINE, i);
      if (q !== -1 && q < i) q = buf.indexOf(QUOTE, i);
      if (q !== -1 && (nl === -1 || q < nl)) {
        this.inQuote = true;
        i = q + 1;
        q = buf.indexOf(QUOTE, i);
        continue;
      }
      if (nl === -1) return;
      onEnd(nl + 1);
      i = nl + 1;
    }
  }
}

export class RecordTooLargeError extends Error {
  constructor(
    readonly record: number,
    readonly limit: number,
  ) {
    super(`record ${record} is longer than ${limit} bytes (an unclosed quote?)`);
    this.name = 'RecordTooLargeError';
  }
}

export interface ChunkOptions {
  /** Chunks are cut at the first record end past this size. */
  readonly targetBytes?: number;
  /** A single record longer than this fails the load rather than filling memory. */
  readonly maxRecordBytes?: number;
}

/** Records in a buffer that starts on a record boundary, counting a last one with no newline. */
function countRecords(buf: Buffer): number {
  let n = 0;
  let last = 0;
  new RecordScanner().scan(buf, (end) => {
    n++;
    last = end;
  });
  return last < buf.length ? n + 1 : n;
}

/**
 * Re-cuts a byte stream into chunks that end on record boundaries. The first chunk is the first record
 * alone (the header). Memory holds at most one chunk plus one record. Blank lines at the end of the file
 * are dropped: PostgreSQL would read each as a row of nulls.
 */
export async function* recordChunks(
  source: AsyncIterable<Buffer>,
  options: ChunkOptions = {},
): AsyncGenerator<CopyChunk> {
  const target = options.targetBytes ?? 4 << 20;
  const maxRecord = options.maxRecordBytes ?? 256 << 20;
  const scanner = new RecordScanner();
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let pendingRecords = 0;
  let recordsSeen = 0;
  let sinceBoundary = 0;
  let headerDone = false;

  for await (const raw of source) {
    let buf = raw;
    let first = -1;
    let last = -1;
    let count = 0;
    scanner.scan(buf, (end) => {
      if (first === -1) first = end;
      last = end;
      count++;
    });
    if (!headerDone && first !== -1) {
      headerDone = true;
      yield { data: Buffer.concat([...pending, buf.subarray(0, first)]), rows: 1 };
      recordsSeen = 1;
      pending = [];
      pendingBytes = 0;
      buf = buf.subarray(first);
      last -= first;
      count--;
      if (count === 0) last = -1;
    }
    if (last === -1) {
      sinceBoundary += buf.length;
      if (sinceBoundary > maxRecord)
        throw new RecordTooLargeError(recordsSeen + pendingRecords + 1, maxRecord);
      pending.push(buf);
      pendingBytes += buf.length;
      continue;
    }
    sinceBoundary = buf.length - last;
    if (pendingBytes + last >= target) {
      const records = pendingRecords + count;
      yield { data: Buffer.concat([...pending, buf.subarray(0, last)]), rows: records };
      recordsSeen += records;
      pending = [buf.subarray(last)];
      pendingBytes = buf.length - last;
      pendingRecords = 0;
    } else {
      pending.push(buf);
      pendingBytes += buf.length;
      pendingRecords += count;
    }
  }
  let rest = Buffer.concat(pending);
  if (!headerDone) {
    if (rest.length > 0) yield { data: rest, rows: 1 };
    return;
  }
  let end = rest.length;
  while (end > 0 && (rest[end - 1] === NEWLINE || rest[end - 1] === 0x0d)) end--;
  rest = rest.subarray(
    0,
    end === rest.length ? end : Math.min(rest.length, end + (rest[end] === 0x0d ? 2 : 1)),
  );
  if (end > 0) yield { data: rest, rows: countRecords(rest) };
}

/** The 1-based physical line on which record `record` (1-based, header = 1) starts. */
export async function lineOfRecord(source: AsyncIterable<Buffer>, record: number): Promise<number> {
  if (record <= 1) return 1;
  const scanner = new RecordScanner();
  let boundaries = 0;
  let newlines = 0;
  let found: number | undefined;
  for await (const buf of source) {
    let from = 0;
    scanner.scan(buf, (end) => {
      if (found !== undefined) return;
      newlines += countNewlines(buf, from, end);
      from = end;
      boundaries++;
      if (boundaries === record - 1) found = newlines + 1;
    });
    if (found !== undefined) return found;
    newlines += countNewlines(buf, from, buf.length);
  }
  return found ?? newlines + 1;
}
