import { AsyncLocalStorage } from 'node:async_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFromStream, to as copyToStream } from 'pg-copy-streams';
import type { CopyChunk, Database, RowCount } from '../../ports/database.ts';
import { copyRejected } from '../copy-errors.ts';

interface SessionState {
  client: pg.PoolClient;
  txDepth: number;
}

/** A PostgreSQL + PostGIS server through `pg`, with COPY streamed both ways by pg-copy-streams. */
export class PgDatabase implements Database {
  readonly engine = 'postgres' as const;
  private readonly als = new AsyncLocalStorage<SessionState>();

  private constructor(private readonly pool: pg.Pool) {}

  static async open(
    connectionString: string,
    options: { max?: number; ssl?: pg.PoolConfig['ssl'] } = {},
  ): Promise<PgDatabase> {
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
    const client = await this.pool.connect();
    let broken = false;
    try {
      return await this.als.run({ client, txDepth: 0 }, fn);
    } catch (e) {
      // A session that fails mid-COPY may leave the connection unusable; do not return it to the pool.
      broken = (e as { code?: string }).code === undefined;
      throw e;
    } finally {
      client.release(broken);
    }
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
  ): Promise<number> {
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

  private async *copyOut(sql: string, count?: RowCount): AsyncIterable<Buffer> {
    const own = this.als.getStore()?.client;
    const client = own ?? (await this.pool.connect());
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
