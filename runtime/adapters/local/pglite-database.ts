import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { ConflictError } from '../../errors.ts';
import type { CopyChunk, Database, RowCount } from '../../ports/database.ts';
import { countNewlines } from '../../util/bytes.ts';
import { isAlive } from '../../util/process.ts';
import { copyRejected, csvField } from '../copy-errors.ts';
import { withOwnSystemIdentifier, writeDataDir } from './pglite-data-dir.ts';
import { postgisExtension } from './pglite-postgis.ts';

export interface OpenOptions {
  /**
   * The data directory a new database starts as, uncompressed; read only when one is made. Asked once
   * more, with `refused`, when the database made from what it gave would not load: it should give one made
   * anew (`preparedImage` removes the cached one and makes it again).
   */
  readonly image?: (again?: { readonly refused: unknown }) => Promise<Uint8Array>;
  /** Where the trimmed PostGIS bundle is kept. @default the user's cache directory */
  readonly cacheDir?: string;
}

interface SessionState {
  txDepth: number;
}

const FETCH_ROWS = 5000;

/** Node's own identity-returning parsers, so PGlite hands back text like `pg` does for the types we cast. */
const rawText = (x: string) => x;

/**
 * PostgreSQL + PostGIS compiled to WASM, in this process. One backend, so sessions take turns: a session
 * (and a transaction) holds a lock that calls from outside it wait for.
 */
export class PgliteDatabase implements Database {
  readonly engine = 'pglite' as const;
  /** One connection: COPY statements run one after another. */
  readonly parallelCopies = 1;
  private readonly als = new AsyncLocalStorage<SessionState>();
  private tail: Promise<unknown> = Promise.resolve();
  private cursorSeq = 0;

  private constructor(
    private readonly pg: PGlite,
    private readonly lockFile: string | undefined,
  ) {}

  /**
   * Opens the database in `dataDir`, or one in memory when it is undefined. A database that does not exist
   * yet is made from `image` (a data directory as a tar archive, see `pglite-image.ts`) with a system
   * identifier of its own; without an image, by initdb and nothing more, which takes several times as long.
   */
  static async open(dataDir?: string, options: OpenOptions = {}): Promise<PgliteDatabase> {
    let lockFile: string | undefined;
    if (dataDir) {
      await mkdir(dataDir, { recursive: true });
      lockFile = `${dataDir}.lock`;
      await takeLock(lockFile);
    }
    try {
      // Loaded when a database is opened, not when the command line starts: read commands that answer
      // from files never need it.
      const [{ PGlite }, { extension }] = await Promise.all([
        import('@electric-sql/pglite'),
        postgisExtension(options.cacheDir),
      ]);
      const image = options.image;
      const creates = image && !(dataDir && existsSync(join(dataDir, 'PG_VERSION')));
      /** The database from `image`: written to `dataDir`, or (in memory) what PGlite loads. */
      const fromImage = async (again?: { refused: unknown }): Promise<Blob | undefined> => {
        const { tar } = withOwnSystemIdentifier(await image!(again));
        if (!dataDir) return new Blob([tar]);
        await writeDataDir(tar, dataDir);
        return undefined;
      };
      const create = (loadDataDir: Blob | undefined) =>
        PGlite.create(dataDir, { extensions: { postgis: extension }, loadDataDir });
      const loadDataDir = creates ? await fromImage() : undefined;
      let pg: PGlite;
      try {
        pg = await create(loadDataDir);
      } catch (refused) {
        // A database just made from the image that will not load is made once more from an image made
        // anew (the cached one may be damaged); an existing one that will not load is its own error.
        if (!creates) throw refused;
        const again = await fromImage({ refused });
        pg = await create(again).catch(async (e: Error) => {
          // What is left there is no one's database: the next run makes it anew rather than fail to load it.
          if (dataDir) await rm(dataDir, { recursive: true, force: true });
          throw new Error(
            `a new database made from the prepared image would not load (${(refused as Error)?.message}), nor one made from the image made again${dataDir ? ` (in ${dataDir})` : ''}: ${e.message}`,
            { cause: e },
          );
        });
      }
      return new PgliteDatabase(pg, lockFile);
    } catch (e) {
      if (lockFile) await unlink(lockFile).catch(() => {});
      throw e;
    }
  }

  /**
   * The data directory as a gzipped tar archive, after a checkpoint, so a database made from it starts
   * without replaying WAL.
   */
  async dumpDataDir(): Promise<Uint8Array> {
    return this.exclusive(async () => {
      await this.pg.exec('CHECKPOINT');
      return new Uint8Array(await (await this.pg.dumpDataDir('gzip')).arrayBuffer());
    });
  }

  /** Runs `fn` alone on the backend unless the caller is already inside a session. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.als.getStore()) return fn();
    const run = this.tail.then(() => this.als.run({ txDepth: 0 }, fn));
    this.tail = run.catch(() => {});
    return run;
  }

  async query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.exclusive(async () => (await this.pg.query<R>(sql, params as unknown[])).rows);
  }

  async exec(sql: string): Promise<void> {
    await this.exclusive(() => this.pg.exec(sql));
  }

  session<T>(fn: () => Promise<T>): Promise<T> {
    return this.exclusive(fn);
  }

  /** One connection: `fn` runs in the session it is called from. */
  beside<T>(fn: () => Promise<T>): Promise<T> {
    return this.session(fn);
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      const state = this.als.getStore()!;
      const savepoint = state.txDepth > 0 ? `sp_${state.txDepth}` : undefined;
      await this.pg.exec(savepoint ? `SAVEPOINT ${savepoint}` : 'BEGIN');
      state.txDepth++;
      try {
        const result = await fn();
        await this.pg.exec(savepoint ? `RELEASE SAVEPOINT ${savepoint}` : 'COMMIT');
        return result;
      } catch (e) {
        await this.pg.exec(savepoint ? `ROLLBACK TO SAVEPOINT ${savepoint}` : 'ROLLBACK');
        throw e;
      } finally {
        state.txDepth--;
      }
    });
  }

  /** PGlite reads COPY input from a Blob, so the stream goes in chunk by chunk, each bounded in size. */
  async copyFrom(
    target: string,
    options: string,
    chunks: AsyncIterable<CopyChunk>,
    header?: Buffer,
  ): Promise<number> {
    return this.exclusive(async () => {
      let offset = 0;
      let rows = 0;
      for await (const chunk of chunks) {
        if (chunk.data.length === 0) continue;
        try {
          const r = await this.pg.query(`COPY ${target} FROM '/dev/blob' ${options}`, [], {
            blob: new Blob(header ? [header, chunk.data] : [chunk.data]),
          });
          rows += r.affectedRows ?? chunk.rows;
        } catch (e) {
          throw copyRejected(e, offset);
        }
        offset += countNewlines(chunk.data);
      }
      return rows;
    });
  }

  copyToCsv(select: string, count?: RowCount): AsyncIterable<Buffer> {
    return this.cursor(select, count, (fields, rows, first) => {
      const single = fields.length === 1;
      let out = first ? `${fields.map((f) => csvField(f, single)).join(',')}\n` : '';
      for (const row of rows) out += `${row.map((v) => csvField(v, single)).join(',')}\n`;
      return out;
    });
  }

  copyToLines(select: string, count?: RowCount): AsyncIterable<Buffer> {
    return this.cursor(select, count, (_fields, rows) => {
      let out = '';
      for (const row of rows) out += `${row[0] ?? ''}\n`;
      return out;
    });
  }

  /** Pages through `select` with a cursor so memory holds one page at a time. */
  private async *cursor(
    select: string,
    count: RowCount | undefined,
    format: (fields: string[], rows: (string | null)[][], first: boolean) => string,
  ): AsyncIterable<Buffer> {
    const inside = this.als.getStore() !== undefined;
    let release: () => void = () => {};
    if (!inside) {
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const previous = this.tail;
      this.tail = previous.then(() => gate);
      await previous;
    }
    const name = `strata_cursor_${++this.cursorSeq}`;
    const ownTx = !inside || this.als.getStore()!.txDepth === 0;
    try {
      if (ownTx) await this.pg.exec('BEGIN');
      await this.pg.exec(`DECLARE ${name} NO SCROLL CURSOR FOR ${select}`);
      let first = true;
      let rows = 0;
      for (;;) {
        const r = await this.pg.query<(string | null)[]>(`FETCH ${FETCH_ROWS} FROM ${name}`, [], {
          rowMode: 'array',
          parsers: new Proxy({}, { get: () => rawText }),
        });
        if (r.rows.length === 0 && !first) break;
        const text = format(
          r.fields.map((f) => f.name),
          r.rows,
          first,
        );
        first = false;
        rows += r.rows.length;
        if (text.length > 0) yield Buffer.from(text);
        if (r.rows.length < FETCH_ROWS) break;
      }
      if (count) count.rows = rows;
      await this.pg.exec(`CLOSE ${name}`);
      if (ownTx) await this.pg.exec('COMMIT');
    } catch (e) {
      if (ownTx) await this.pg.exec('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    await this.tail;
    await this.pg.close();
    if (this.lockFile) await unlink(this.lockFile).catch(() => {});
  }
}

/** PGlite's files must not be opened by two processes at once: that corrupts them. */
async function takeLock(lockFile: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(lockFile, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new ConflictError(
          `the embedded database ${lockFile.replace(/\.lock$/, '')} is in use by process ${pid}; ` +
            'wait for it, or set DATABASE_URL to share a PostgreSQL server between processes',
        );
      }
      if (pid === process.pid)
        throw new ConflictError(`the embedded database is already open in this process`);
      await unlink(lockFile).catch(() => {});
    }
  }
  throw new ConflictError(`could not lock ${lockFile}`);
}

export const pgliteDataDir = (home: string) => join(home, 'pglite');
