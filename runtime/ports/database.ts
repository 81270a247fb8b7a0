/** One chunk of COPY input, ending on a record boundary, and how many rows it holds. */
export interface CopyChunk {
  readonly data: Buffer;
  readonly rows: number;
}

/**
 * A COPY that the database refused. `line` is PostgreSQL's: the 1-based physical line of the data sent
 * on which the refused record ends (a quoted newline counts).
 */
export class CopyRejectedError extends Error {
  constructor(
    message: string,
    readonly line: number | undefined,
    readonly column: string | undefined,
    readonly sqlState: string | undefined,
    readonly constraint: string | undefined,
  ) {
    super(message);
    this.name = 'CopyRejectedError';
  }
}

/** Filled in with the number of rows a COPY out wrote, once its stream has ended. */
export interface RowCount {
  rows: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs a script of one or more statements with no parameters. */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly engine: 'pglite' | 'postgres';
  /**
   * Runs `fn` on one connection. Every call on this Database made inside `fn` (directly or deeper in the
   * async call tree) goes to that connection, so session state (search_path, advisory locks, a transaction)
   * holds for the whole of `fn`.
   */
  session<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Runs `fn` on a connection of its own, outside the session it is called from, so that both can work at
   * once; only where `parallelCopies > 1` (a server's pool). A database with one connection (PGlite) runs it in
   * the session, so a caller there must not run anything beside it.
   */
  beside<T>(fn: () => Promise<T>): Promise<T>;
  /** `session` wrapped in BEGIN/COMMIT, rolled back when `fn` throws. */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * `COPY <target> FROM STDIN <options>`: streams the chunks in. Returns the rows copied.
   * Throws CopyRejectedError naming the line when the data is refused.
   *
   * `header`, for CSV with `HEADER true`: the file's header line, sent first. An adapter that copies in
   * several statements sends it before each, so every statement knows the line ending before the first
   * quoted newline (PostgreSQL counts lines inside quotes only once it does) and lines stay those of the file.
   */
  copyFrom(
    target: string,
    options: string,
    chunks: AsyncIterable<CopyChunk>,
    header?: Buffer,
    /** `parallel` asks for several statements at once; the adapter sets `statements` to how many ran. */
    copy?: { parallel?: boolean; statements?: number },
  ): Promise<number>;
  /**
   * How many COPY statements `copyFrom` with `parallel` runs at most at once, each on a connection of its
   * own (1 where the database has one connection; fewer when the others are busy). The caller of a parallel copy must have committed the
   * target table and must not need the rows to be atomic with anything: each statement commits on its
   * own, so on failure the caller drops the table. Lines in a refusal are still the stream's.
   */
  readonly parallelCopies: number;
  /**
   * Streams the result of `select` as CSV (with a header row), the way `COPY (select) TO STDOUT
   * (FORMAT csv, HEADER)` writes it. Every selected column should be text so both engines print alike.
   */
  copyToCsv(select: string, count?: RowCount): AsyncIterable<Buffer>;
  /** Streams the single text column of `select`, one value a line, written verbatim. */
  copyToLines(select: string, count?: RowCount): AsyncIterable<Buffer>;
  /**
   * Streams the result of `select` in PostgreSQL's binary COPY format (`COPY (select) TO STDOUT (FORMAT
   * binary)`): values as the server holds them, no text to parse. Only where the engine streams it (a
   * server); PGlite's COPY TO gives its whole result at once, so it has none and callers page through
   * `copyToLines` there.
   */
  readonly copyToBinary?: (select: string, count?: RowCount) => AsyncIterable<Buffer>;
  close(): Promise<void>;
}
