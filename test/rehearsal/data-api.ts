// The RDS Data API's side of the recording endpoint: statements run on a real database (the PostgreSQL
// server of DATABASE_URL, or PGlite), answered as the Data API answers `formatRecordsAs: 'JSON'`: numbers
// and booleans as JSON values, everything else (jsonb, timestamps, arrays) as the server's text.
import { randomUUID } from 'node:crypto';
import pg from 'pg';

interface SqlParameter {
  name: string;
  value: {
    isNull?: boolean;
    booleanValue?: boolean;
    longValue?: number;
    doubleValue?: number;
    stringValue?: string;
  };
  typeHint?: string;
}

export interface DataApiBackend {
  execute(sql: string, params: unknown[], transactionId?: string): Promise<Record<string, unknown>[]>;
  begin(): Promise<string>;
  end(transactionId: string, commit: boolean): Promise<void>;
  close(): Promise<void>;
}

const NUMBERS = new Set([20, 21, 23, 700, 701, 26]);
const asDataApi = (oid: number, text: string): unknown =>
  NUMBERS.has(oid) ? Number(text) : oid === 16 ? text === 't' || text === 'true' : text;

/** `:p1` (Data API) back to `$1`, and the typed values back to plain ones. */
export function fromDataApi(
  sql: string,
  parameters: SqlParameter[] = [],
): { sql: string; params: unknown[] } {
  const byName = new Map(parameters.map((p) => [p.name, p]));
  const order: string[] = [];
  const text = sql.replace(/(?<!:):(p\d+)\b/g, (_, name: string) => {
    if (!byName.has(name)) throw new Error(`the statement names :${name}, which has no parameter`);
    if (!order.includes(name)) order.push(name);
    return `$${order.indexOf(name) + 1}`;
  });
  const params = order.map((n) => {
    const { value: v, typeHint } = byName.get(n)!;
    if (v.isNull) return null;
    const plain = v.stringValue ?? v.longValue ?? v.doubleValue ?? v.booleanValue ?? null;
    return typeHint === 'JSON' && typeof plain === 'string' ? plain : plain;
  });
  return { sql: text, params };
}

/** The PostgreSQL server: a pool, and a client of its own for each open transaction. */
export function pgBackend(url: string): DataApiBackend {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const open = new Map<string, pg.PoolClient>();
  const types = { getTypeParser: (oid: number) => (text: string) => asDataApi(oid, text) };
  return {
    async execute(sql, params, transactionId) {
      const client = transactionId ? open.get(transactionId) : pool;
      if (!client)
        throw Object.assign(new Error(`Transaction ${transactionId} is not found`), { code: 'tx' });
      const r = await client.query({ text: sql, values: params, types } as pg.QueryConfig);
      return r.rows ?? [];
    },
    async begin() {
      const client = await pool.connect();
      await client.query('BEGIN');
      const id = randomUUID();
      open.set(id, client);
      return id;
    },
    async end(id, commit) {
      const client = open.get(id);
      if (!client) throw new Error(`Transaction ${id} is not found`);
      open.delete(id);
      try {
        await client.query(commit ? 'COMMIT' : 'ROLLBACK');
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

/** PGlite: one backend, so a statement from outside an open transaction waits for it to end. */
export async function pgliteBackend(): Promise<DataApiBackend> {
  const [{ PGlite }, { postgis }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-postgis'),
  ]);
  const db = await PGlite.create(undefined, { extensions: { postgis } });
  let current: { id: string; done: Promise<void>; release: () => void } | undefined;
  const parsers = new Proxy({}, { get: (_, oid) => (text: string) => asDataApi(Number(oid), text) });
  const run = async (sql: string, params: unknown[]) =>
    (await db.query<Record<string, unknown>>(sql, params, { parsers })).rows;
  return {
    async execute(sql, params, transactionId) {
      if (transactionId) {
        if (current?.id !== transactionId) throw new Error(`Transaction ${transactionId} is not found`);
        return run(sql, params);
      }
      while (current) await current.done;
      return run(sql, params);
    },
    async begin() {
      while (current) await current.done;
      let release = () => {};
      const done = new Promise<void>((r) => {
        release = r;
      });
      current = { id: randomUUID(), done, release };
      await db.exec('BEGIN');
      return current.id;
    },
    async end(id, commit) {
      if (current?.id !== id) throw new Error(`Transaction ${id} is not found`);
      try {
        await db.exec(commit ? 'COMMIT' : 'ROLLBACK');
      } finally {
        const c = current;
        current = undefined;
        c.release();
      }
    },
    close: () => db.close(),
  };
}
