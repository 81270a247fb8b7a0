import { get } from 'node:http';
import { pgliteDataDir } from '../../runtime/adapters/local/pglite-database.ts';
import { listVersions, type VersionRow } from '../../runtime/archive/archive.ts';
import { archivedVersionRows } from '../../runtime/archive/loads.ts';
import { type Catalog, unavailable } from '../../runtime/catalog-files/loader.ts';
import { dataDirSystemIdentifier } from '../../runtime/db/identity.ts';
import { databaseUrlOf, localStore, openDatabase, strataHome } from '../../runtime/platform/local.ts';
import type { Database } from '../../runtime/ports/database.ts';
import type { ObjectStore } from '../../runtime/ports/object-store.ts';
import type { ProductVersionSummary } from '../../runtime/publish/versions.ts';
import { RunRegistry } from '../../runtime/runs/registry.ts';
import type { Run, RunStatus } from '../../runtime/runs/schema.ts';
import { databaseKey, findServe } from '../../runtime/serve/discovery.ts';
import { type GlobalOptions, openCatalog, withFirstRunNotice } from './context.ts';
import { humanBytes, printJson, printTable } from './output.ts';

/**
 * Read commands answer from what can answer fastest, and open the database (3–4 s for the embedded one)
 * only when nothing else can: the archive's and egress's own files, then a running `strata serve` (which
 * holds the database), then the database. Each gives the same answer. `STRATA_READS=database` skips the
 * fast paths; `STRATA_READS=fast` refuses to open the database (for tests and the benchmark).
 */
const READ_PATHS = ['auto', 'fast', 'database'] as const;
type ReadPath = (typeof READ_PATHS)[number];

function readPath(): ReadPath {
  const v = process.env.STRATA_READS ?? 'auto';
  if (!(READ_PATHS as readonly string[]).includes(v))
    throw new Error(`STRATA_READS must be one of ${READ_PATHS.join(', ')}, got "${v}"`);
  return v as ReadPath;
}

interface FastPath<T> {
  readonly name: string;
  /** The answer, or undefined when this path cannot give it. */
  read(): Promise<T | undefined>;
}

async function answer<T>(
  opts: GlobalOptions,
  fast: readonly FastPath<T>[],
  fromDatabase: (db: Database) => Promise<T>,
): Promise<T> {
  const mode = readPath();
  if (mode !== 'database')
    for (const path of fast) {
      // A path that fails (a serve that stopped mid-answer, a file being written) just cannot answer.
      const value = await path.read().catch(() => undefined);
      if (value !== undefined) return value;
    }
  if (mode === 'fast')
    throw new Error(
      `no fast path could answer (${fast.map((f) => f.name).join(', ') || 'none'}) and STRATA_READS=fast forbids opening the database`,
    );
  const db = await withFirstRunNotice(opts, () => openDatabase({ home: opts.home }));
  try {
    return await fromDatabase(db);
  } finally {
    await db.close();
  }
}

/** Asks the running serve of this home and database, if any. */
function fromServe<T>(opts: GlobalOptions, path: string): FastPath<T> {
  return {
    name: 'strata serve',
    async read() {
      const home = strataHome(opts.home);
      const serving = await findServe(home, databaseKey(home, databaseUrlOf(opts.home)));
      if (!serving) return undefined;
      // Generous: the embedded database takes one query at a time, and a load in hand comes first.
      return getJson<T>(`${serving.url}${path}`, 30_000);
    },
  };
}

/** Hands a command the way to list runs, for it to print them. */
export function withRuns<T>(
  opts: GlobalOptions,
  fn: (
    list: (filter: { status?: RunStatus; target?: string; limit: number }) => Promise<Run[]>,
  ) => Promise<T>,
): Promise<T> {
  return fn((filter) => readRuns(opts, filter));
}

/**
 * GET as JSON with node:http, which starts in a fraction of the time `fetch` (undici) takes to load: this
 * is on the path of a command meant to answer in well under half a second. Undefined unless 200.
 */
function getJson<T>(url: string, timeoutMs: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve(undefined);
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

export function readRuns(
  opts: GlobalOptions,
  filter: { status?: RunStatus; target?: string; limit: number },
): Promise<Run[]> {
  const query = new URLSearchParams({ limit: String(filter.limit) });
  if (filter.status) query.set('status', filter.status);
  if (filter.target) query.set('target', filter.target);
  return answer(opts, [fromServe<Run[]>(opts, `/runs?${query}`)], (db) => new RunRegistry(db).list(filter));
}

export function readDatasetVersions(opts: GlobalOptions, dataset: string): Promise<VersionRow[]> {
  const archive: FastPath<VersionRow[]> = {
    name: 'the archive',
    async read() {
      // Only the embedded database can be named without starting it (its control file says which it is);
      // a server is quick to ask anyway.
      if (databaseUrlOf(opts.home)) return undefined;
      const id = await dataDirSystemIdentifier(pgliteDataDir(strataHome(opts.home)));
      return id === undefined ? undefined : archivedVersionRows(localStore(opts.home), dataset, id);
    },
  };
  return answer(
    opts,
    [archive, fromServe<VersionRow[]>(opts, `/_local/datasets/${encodeURIComponent(dataset)}/versions`)],
    (db) => listVersions(db, dataset),
  );
}

/** The buckets alone, for what is answered from published and archived files. */
export const readStore = (opts: GlobalOptions): ObjectStore => localStore(opts.home);

/** The catalog and the buckets, with no database: for commands that read published files only. */
export async function withStore<T>(
  opts: GlobalOptions,
  fn: (store: ObjectStore, catalog: Catalog) => Promise<T>,
): Promise<T> {
  return fn(readStore(opts), await openCatalog(opts));
}

/**
 * Checks that the catalog knows `name`, usable or not: reading what was archived or published for a
 * dataset or product with catalog problems harms nothing.
 */
export function requireKnown(catalog: Catalog, kind: 'dataset' | 'product', name: string): void {
  const usable = kind === 'dataset' ? catalog.datasets : catalog.products;
  const broken = kind === 'dataset' ? catalog.unusable?.datasets : catalog.unusable?.products;
  if (!usable.has(name) && !broken?.has(name)) throw unavailable(catalog, kind, name);
}

export const isProduct = (catalog: Catalog, name: string) =>
  catalog.products.has(name) || Boolean(catalog.unusable?.products.has(name));

/** `2026-11-22 03:56:28`: when a version came to be, the same column for datasets and products. */
const created = (iso: string) => iso.replace('T', ' ').slice(0, 19);

/** JSON's key order from a jsonb column is the database's: sorted, both paths print alike. */
const sortedKeys = (o: object) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

export function printDatasetVersions(versions: readonly VersionRow[], json: boolean): void {
  const rows = versions.map((v) => ({ ...v, origin: sortedKeys(v.origin) as VersionRow['origin'] }));
  if (json) {
    printJson(rows);
    return;
  }
  printTable(
    rows.map((v) => ({
      version: v.version,
      current: v.current ? '*' : '',
      created: created(v.receivedAt),
      size: humanBytes(v.size),
      sha256: v.sha256.slice(0, 12),
      rows: v.rowCount ?? '',
      loaded: v.loadedAt ? 'yes' : 'no',
      file: v.filename,
      origin: v.origin.kind,
    })),
    ['version', 'current', 'created', 'size', 'sha256', 'rows', 'loaded', 'file', 'origin'],
  );
}

export function printProductVersions(versions: readonly ProductVersionSummary[], json: boolean): void {
  if (json) {
    printJson(versions);
    return;
  }
  printTable(
    versions.map((v) => ({ ...v, created: created(v.builtAt), latest: v.latest ? '*' : '' })),
    ['version', 'latest', 'created', 'outputs', 'runId'],
  );
}
