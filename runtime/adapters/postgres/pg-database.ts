import { AsyncLocalStorage } from 'node:async_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pool, PoolClient, PoolConfig } from 'pg';
import { from as copyFromStream, to as copyToStream } from 'pg-copy-streams';
import { isDatabaseUnavailable } from '../../db/transient.ts';
import { type CopyChunk, CopyRejectedError, type Database, type RowCount } from '../../ports/database.ts';
import { countNewlines } from '../../util/bytes.ts';
import { copyRejected } from '../copy-errors.ts';

/** Clients that already have a listener for their connection's errors. */
const guarded = new WeakSet<PoolClient>();

interface SessionState {
  client: PoolClient;
  txDepth: number;
}

/** A PostgreSQL + PostGIS server through `pg`, with COPY streamed both ways by pg-copy-streams. */
export class PgDatabase implements Database {
  readonly engine = 'postgres' as const;
  private readonly als = new AsyncLocalStorage<SessionState>();

  private constructor(private readonly pool: Pool) {}

  static async open(
    connectionString: string,
    options: { max?: number; ssl?: PoolConfig['ssl'] } = {},
  ): Promise<PgDatabase> {
    // Loaded when a database is opened, not when the command line starts: read commands that answer from
    // files never need the driver.
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({
      connectionString,
      max: options.max ?? 8,
      application_name: 'strata',
      ssl: options.ssl,
    });
    // Idle clients can see the server go away; the pool replaces them on next use.
    pool.on('error', () => {});
    const client = await pool.connect();
    client.release();
    return new PgDatabase(pool);
  }

  /**
   * A client from the pool that survives its server going away: pg emits 'error' on a checked-out client
   * whose connection ends, which with no listener would end the process. The query in flight fails with the
   * cause anyway, and the client is not given back to the pool.
   */
  private async checkout(): Promise<PoolClient> {
    const client = await this.pool.connect();
    if (!guarded.has(client)) {
      guarded.add(client);
      client.on('error', () => {});
    }
    return client;
  }

  async query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    const s = this.als.getStore();
    const r = s
      ? await s.client.query(sql, params as unknown[])
      : await this.pool.query(sql, params as unknown[]);
    return r.rows as R[];
  }

  async exec(sql: string): Promise<void> {
    const s = this.als.getStore();
    await (s ? s.client.query(sql) : this.pool.query(sql));
  }

  async session<T>(fn: () => Promise<T>): Promise<T> {
    if (this.als.getStore()) return fn();
    const client = await this.checkout();
    let broken = false;
    try {
      return await this.als.run({ client, txDepth: 0 }, fn);
    } catch (e) {
      // A session that fails mid-COPY, or whose server went away, may leave the connection unusable: do not
      // return it to the pool.
      broken = (e as { code?: string }).code === undefined || isDatabaseUnavailable(e);
      throw e;
    } finally {
      client.release(broken);
    }
  }

  beside<T>(fn: () => Promise<T>): Promise<T> {
    return this.als.exit(() => this.session(fn));
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.session(async () => {
      const state = this.als.getStore()!;
      const savepoint = state.txDepth > 0 ? `sp_${state.txDepth}` : undefined;
      await state.client.query(savepoint ? `SAVEPOINT ${savepoint}` : 'BEGIN');
      state.txDepth++;
      try {
        const result = await fn();
        await state.client.query(savepoint ? `RELEASE SAVEPOINT ${savepoint}` : 'COMMIT');
        return result;
      } catch (e) {
        await state.client.query(savepoint ? `ROLLBACK TO SAVEPOINT ${savepoint}` : 'ROLLBACK');
        throw e;
      } finally {
        state.txDepth--;
      }
    });
  }

  copyFrom(
    target: string,
    options: string,
    chunks: AsyncIterable<CopyChunk>,
    header?: Buffer,
    copy: { parallel?: boolean; statements?: number } = {},
  ): Promise<number> {
    copy.statements = 1;
    if (copy.parallel && this.parallelCopies > 1)
      return this.copyFromParallel(`COPY ${target} FROM STDIN ${options}`, chunks, header, copy);
    return this.session(async () => {
      const { client } = this.als.getStore()!;
      const stream = client.query(copyFromStream(`COPY ${target} FROM STDIN ${options}`));
      const source = Readable.from(
        (async function* () {
          if (header) yield header;
          for await (const c of chunks) yield c.data;
        })(),
      );
      try {
        await pipeline(source, stream);
      } catch (e) {
        throw copyRejected(e);
      }
      return stream.rowCount;
    });
  }

  /**
   * Two connections on one machine; PostgreSQL runs each COPY on one core, and measured on two cores, two
   * at once load a million-row CSV in 0.6 of the time. Only with room in the pool beside a session's.
   */
  get parallelCopies(): number {
    return this.pool.options.max >= 3 ? 2 : 1;
  }

  /**
   * The chunks go, in order, to whichever COPY asks for more next, each COPY on its own connection (the
   * header before each). A refusal's line is mapped back from its statement's input to the whole stream's.
   */
  private async copyFromParallel(
    copySql: string,
    chunks: AsyncIterable<CopyChunk>,
    header: Buffer | undefined,
    copy: { statements?: number },
  ): Promise<number> {
    const next = chunks[Symbol.asyncIterator]();
    let streamLines = 0;
    /** Per statement: where each of its chunks starts, in its own input and in the whole stream (data lines). */
    type Placed = { own: number; whole: number };
    const feed = async function* (placed: Placed[]): AsyncGenerator<Buffer> {
      if (header) yield header;
      let own = 0;
      for (;;) {
        // Calls to next() queue and settle in order, so chunks are placed in stream order.
        const r = await next.next();
        if (r.done) return;
        placed.push({ own, whole: streamLines });
        const lines = countNewlines(r.value.data);
        own += lines;
        streamLines += lines;
        yield r.value.data;
      }
    };
    const clients: PoolClient[] = [];
    let failed = false;
    try {
      clients.push(await this.checkout());
      // Another connection only if one is free now: loads that each held one and waited for a second
      // could otherwise take the whole pool and wait on each other for ever.
      while (
        clients.length < this.parallelCopies &&
        this.pool.idleCount + this.pool.options.max - this.pool.totalCount > 0
      )
        clients.push(await this.checkout());
      copy.statements = clients.length;
      const counts = await Promise.all(
        clients.map(async (client) => {
          const placed: Placed[] = [];
          const stream = client.query(copyFromStream(copySql));
          try {
            await pipeline(Readable.from(feed(placed)), stream);
          } catch (e) {
            const own = copyRejected(e);
            if (!(own instanceof CopyRejectedError) || own.line === undefined) throw own;
            // Line 1 is the header, so data line d (from 0) is line d + 2.
            const at = placed.findLast((p) => p.own <= own.line! - 2);
            throw copyRejected(e, at ? at.whole - at.own : 0);
          }
          return stream.rowCount;
        }),
      );
      return counts.reduce((a, b) => a + b, 0);
    } catch (e) {
      failed = true;
      // Let go of the source too (an archive object being read).
      void next.return?.(undefined)?.catch(() => {});
      throw e;
    } finally {
      // Closing a connection mid-COPY is how the other statements stop when one fails.
      for (const c of clients) c.release(failed);
    }
  }

  copyToCsv(select: string, count?: RowCount): AsyncIterable<Buffer> {
    return this.copyOut(`COPY (${select}) TO STDOUT WITH (FORMAT csv, HEADER)`, count);
  }

  copyToLines(select: string, count?: RowCount): AsyncIterable<Buffer> {
    // CSV with control characters as delimiter and quote: a single text value with neither (JSON never
    // holds raw control characters) is written verbatim, where text format would escape backslashes.
    return this.copyOut(
      `COPY (${select}) TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')`,
      count,
    );
  }

  readonly copyToBinary = (select: string, count?: RowCount): AsyncIterable<Buffer> =>
    this.copyOut(`COPY (${select}) TO STDOUT WITH (FORMAT binary)`, count);

  private async *copyOut(sql: string, count?: RowCount): AsyncIterable<Buffer> {
    const own = this.als.getStore()?.client;
    const client = own ?? (await this.checkout());
    let failed = false;
    try {
      const stream = client.query(copyToStream(sql));
      for await (const chunk of stream) yield chunk as Buffer;
      // The server's own count, from the COPY command tag.
      if (count) count.rows = stream.rowCount;
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      if (!own) client.release(failed);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
