import { currentLoaded, listVersions } from '../archive/archive.ts';
import { history } from '../archive/current.ts';
import { listQuarantine } from '../archive/quarantine.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import { ConflictError } from '../errors.ts';
import {
  databaseUrlOf,
  localQueueAndRuns,
  openDatabase,
  openLocalPlatform,
  switchHomeDatabase,
} from '../platform/local.ts';
import type { Platform } from '../platform/platform.ts';
import type { Queryable } from '../ports/database.ts';
import { newestVersion, registeredVersions } from '../publish/registry.ts';
import { NothingToRebuildError, type RebuildReport, rebuildDatabase } from './rebuild.ts';
import { type BucketRecord, readBucketRecord } from './record.ts';

/**
 * `strata db move --to postgres://… | embedded`: a home's database moved to a server, or back to its
 * embedded one, by the way a lost database comes back: rebuilt there from the buckets, then compared with
 * the database it replaces, and only when both give the same answers is the home pointed at it
 * (`<home>/database.json`). The database left is kept (an embedded one renamed aside), never deleted.
 */

export interface MoveReport {
  readonly from: string;
  readonly to: string;
  readonly rebuild: RebuildReport | { nothingToAdd: true };
  /** What was compared between the two databases and found the same. */
  readonly verified: {
    datasets: number;
    versions: number;
    events: number;
    quarantine: number;
    products: number;
  };
  /** Where the embedded database left behind now is. */
  readonly embeddedKeptAt?: string;
}

/** A database URL without its password, for messages. */
export const shownUrl = (url: string | undefined) =>
  url === undefined ? 'the embedded database' : url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');

export async function moveDatabase(input: {
  home?: string;
  to: string | undefined;
  catalog: Catalog;
  all?: boolean;
  onProgress?: (message: string) => void;
}): Promise<MoveReport> {
  if (process.env.DATABASE_URL)
    throw new ConflictError(
      'DATABASE_URL is set, and it names the database of every command whatever the home says: unset it to move the home',
    );
  const from = databaseUrlOf(input.home);
  if (from === input.to) throw new ConflictError(`the home's database is ${shownUrl(from)} already`);
  const source = await openLocalPlatform({ home: input.home });
  let moved: Omit<MoveReport, 'embeddedKeptAt'>;
  try {
    moved = await rebuildAndCompare(source, input, from);
  } finally {
    await source.close();
  }
  const kept = await switchHomeDatabase(input.home, input.to);
  return { ...moved, ...(kept ? { embeddedKeptAt: kept } : {}) };
}

async function rebuildAndCompare(
  source: Platform,
  input: Parameters<typeof moveDatabase>[0],
  from: string | undefined,
): Promise<Omit<MoveReport, 'embeddedKeptAt'>> {
  const { unfinished } = await source.runs.counts();
  if (unfinished > 0)
    throw new ConflictError(
      `${unfinished} run(s) have not finished (strata runs --status queued, running, interrupted): let them finish before the move, which does not take them along`,
    );
  const db = await openDatabase({
    home: input.home,
    databaseUrl: input.to,
    embedded: input.to === undefined,
  });
  try {
    const target: Platform = { db, store: source.store, ...localQueueAndRuns(db), close: () => db.close() };
    let rebuild: MoveReport['rebuild'];
    try {
      rebuild = await rebuildDatabase(target, input.catalog, {
        all: input.all,
        load: await loadedVersions(source.db, await readBucketRecord(source.store)),
        onProgress: input.onProgress,
      });
    } catch (e) {
      // A server that holds all of it already (a move back to where the home was before) is simply compared.
      if (!(e instanceof NothingToRebuildError)) throw e;
      rebuild = { nothingToAdd: true };
    }
    input.onProgress?.(`comparing ${shownUrl(input.to)} with ${shownUrl(from)}`);
    const record = await readBucketRecord(source.store);
    const { differences, verified } = await compare(source.db, db, record);
    if (differences.length > 0)
      throw new ConflictError(
        `${shownUrl(input.to)} does not give the same answers as ${shownUrl(from)}, so the home stays where it is: ${differences.slice(0, 10).join('; ')}`,
      );
    return { from: shownUrl(from), to: shownUrl(input.to), rebuild, verified };
  } finally {
    await db.close();
  }
}

/** Every version the database has loaded: the move loads them all there too, so `versions` says the same. */
async function loadedVersions(db: Queryable, record: BucketRecord) {
  const loaded: { dataset: string; version: string }[] = [];
  for (const { dataset } of record.datasets)
    for (const v of await listVersions(db, dataset))
      if (v.table) loaded.push({ dataset, version: v.version });
  return loaded;
}

/** What each database says of a dataset: its versions, current version and its rows, history and quarantine. */
async function datasetAnswers(db: Queryable, dataset: string) {
  const current = await currentLoaded(db, dataset);
  return {
    versions: (await listVersions(db, dataset)).map((v) => `${v.version}:${v.sha256}:${v.rowCount}`),
    current: current ? `${current.version}:${current.rows}` : null,
    history: (await history(db, dataset)).map((e) => JSON.stringify(e)),
    quarantine: (await listQuarantine(db, { dataset })).map(
      (q) => `${q.id}:${q.release ? 'released' : 'held'}`,
    ),
  };
}

async function compare(a: Queryable, b: Queryable, record: BucketRecord) {
  const differences: string[] = [];
  const verified = { datasets: 0, versions: 0, events: 0, quarantine: 0, products: 0 };
  for (const { dataset } of record.datasets) {
    const [x, y] = [await datasetAnswers(a, dataset), await datasetAnswers(b, dataset)];
    for (const k of ['versions', 'current', 'history', 'quarantine'] as const)
      if (JSON.stringify(x[k]) !== JSON.stringify(y[k])) differences.push(`${dataset}: its ${k} differ`);
    verified.datasets++;
    verified.versions += y.versions.length;
    verified.events += y.history.length;
    verified.quarantine += y.quarantine.length;
  }
  for (const product of record.products.keys()) {
    const same =
      JSON.stringify(await newestVersion(a, product)) === JSON.stringify(await newestVersion(b, product)) &&
      JSON.stringify([...(await registeredVersions(a, product))].sort()) ===
        JSON.stringify([...(await registeredVersions(b, product))].sort());
    if (!same) differences.push(`${product}: its published versions differ`);
    verified.products++;
  }
  return { differences, verified };
}
