// The database is lost (a deleted home, a dropped database) or restored from an older snapshot: the buckets
// are the record, and `strata db rebuild` makes the database again from them alone.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../runtime/adapters/local/fs-object-store.ts';
import { currentVersion, listVersions } from '../../runtime/archive/archive.ts';
import { history } from '../../runtime/archive/current.ts';
import { listQuarantine } from '../../runtime/archive/quarantine.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { promote } from '../../runtime/contracts/promote.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import { releaseFromQuarantine } from '../../runtime/jobs/release.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { localQueueAndRuns } from '../../runtime/platform/local.ts';
import type { Platform } from '../../runtime/platform/platform.ts';
import { publishedLock, staleDependents } from '../../runtime/products/freshness.ts';
import { newestVersion } from '../../runtime/publish/registry.ts';
import { listProductVersions, readManifest } from '../../runtime/publish/versions.ts';
import { NothingToRebuildError, rebuildDatabase } from '../../runtime/rebuild/rebuild.ts';
import type { Run } from '../../runtime/runs/schema.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { type Engine, engines, type TestPlatform } from '../helpers/engines.ts';
import { sendFile } from '../helpers/ingest.ts';
import { MemoryDirectory, testApp } from '../helpers/partner-api.ts';

const csv = (rows: string[]) => `id,name,lon,lat\n${rows.join('\n')}\n`;
const sites = (n: number, tag = '') =>
  csv(Array.from({ length: n }, (_, k) => `${k + 1},Site ${k + 1}${tag},${-1 + k / 100},${52 + k / 100}`));

/** A platform over `buckets` (a folder), with a database of its own from `engine`. */
async function platformOver(
  engine: Engine,
  dir: string,
  buckets = join(dir, 'buckets'),
): Promise<TestPlatform> {
  const db = await engine.open();
  return { dir, db, store: new FsObjectStore(buckets), ...localQueueAndRuns(db), close: () => db.close() };
}

/** Everything a user or partner reads that the database answers, or that a rebuild could get wrong. */
async function answers(p: Platform, app: ReturnType<typeof testApp>, key: string) {
  const get = async (path: string) =>
    JSON.parse(
      await (await app.request(`http://127.0.0.1${path}`, { headers: { 'X-API-Key': key } })).text(),
    );
  const versions = await listVersions(p.db, 'sites');
  const newest = await newestVersion(p.db, 'site_points');
  // The run that made it, as far as the buckets record it (its attempts' records and cost were the database's).
  const { finishedAt: _f, result: _r, cost: _c, error: _e, ...newestRun } = await p.runs.get(newest!.runId);
  return {
    current: (await currentVersion(p.db, 'sites'))?.version,
    history: await history(p.db, 'sites'),
    quarantine: await listQuarantine(p.db),
    // `strata versions sites`: what the archive says of each version, and which is current.
    versions: versions.map(({ loadedAt: _l, table: _t, rowCount: _r, ...v }) => v),
    currentRows: versions.find((v) => v.current)?.rowCount,
    view: await p.db.query('SELECT count(*)::int AS n FROM datasets.sites'),
    newest,
    newestRun,
    lock: await publishedLock(p.db, 'site_points'),
    // `strata versions site_points`, `strata show site_points`.
    productVersions: await listProductVersions(p.store, 'site_points'),
    show: await readManifest(p.store, 'site_points'),
    api: {
      collections: await get('/collections'),
      products: await get('/products/site_points/versions'),
      datasets: await get('/datasets/sites/versions'),
    },
  };
}

describe.each(engines())('faults: the database is lost on $name', (engine) => {
  let dir: string;
  let first: TestPlatform;
  let rebuilt: TestPlatform;
  let catalog: Catalog;
  const partners = new MemoryDirectory();
  const reader = partners.add('reader', ['read:products/site_points', 'read:datasets/sites'], 10_000);
  const appOver = (p: Platform) =>
    testApp({ catalog, store: p.store, runs: p.runs, queue: p.queue, partners });
  const send = (p: TestPlatform, name: string, body: string) => sendFile(p, catalog, 'sites', name, body);
  /** A build, asked from the command line, or (`input`) queued because an input changed. */
  const build = async (p: Platform, kind: 'cli' | 'input' = 'cli'): Promise<Run> =>
    workUntil(p, catalog, (await submit(p, { kind: 'build', product: 'site_points' }, { kind })).id);
  let before: Awaited<ReturnType<typeof answers>>;
  let olderBuckets: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-lost-'));
    catalog = await writeCatalog(join(dir, 'catalog'), {
      datasets: {
        sites: {
          format: 'csv',
          columns: [
            { name: 'id', type: 'integer', required: true },
            { name: 'name', type: 'text' },
            { name: 'lon', type: 'double' },
            { name: 'lat', type: 'double' },
          ],
          geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat' },
          change: { maxFewerRows: '20%' },
        },
      },
      products: {
        site_points: {
          product: {
            inputs: { sites: 'sites' },
            outputs: [{ table: 'points', formats: ['csv', 'flatgeobuf'] }],
          },
          sql: { '010_points.sql': 'CREATE TABLE points AS SELECT id, name, geom FROM sites;' },
        },
      },
    });
    first = await platformOver(engine, dir);
  });
  afterAll(async () => {
    await rebuilt?.close();
    await first?.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('a rebuild from the buckets alone gives the same current versions, histories, quarantine, product versions and answers', async () => {
    // Prepare: sent, sent again, quarantined (twice), released, promoted, built and published.
    const ten = await send(first, 'ten.csv', sites(10));
    const eleven = await send(first, 'eleven.csv', sites(11, 'b'));
    expect((await send(first, 'five.csv', sites(5, 'c'))).status).toBe('failed');
    expect((await send(first, 'six.csv', sites(6, 'd'))).status).toBe('failed');
    expect((await send(first, 'ten-again.csv', sites(10))).status).toBe('succeeded');
    const five = (await listQuarantine(first.db)).find((q) => q.file.filename === 'five.csv')!;
    const ops = { trigger: 'cli', user: 'ops' };
    await releaseFromQuarantine(first, catalog, `sites/${five.id}`, {
      reason: 'the survey closed five sites',
      actor: ops,
      trigger: { kind: 'cli', by: 'ops' },
    });
    expect((await build(first)).status).toBe('succeeded');
    await promote(first, catalog.datasets.get('sites')!, String(eleven.result!.version), {
      reason: 'five was a test',
      actor: ops,
    });
    expect((await build(first)).status).toBe('succeeded');
    expect(ten.status).toBe('succeeded');
    before = await answers(first, appOver(first), reader.apiKey!.key);
    expect(before.history.map((e) => e.kind)).toEqual(['sent', 'sent', 'resent', 'released', 'promoted']);
    expect(before.quarantine.map((q) => Boolean(q.release))).toEqual([false, true]);
    expect(before.productVersions).toHaveLength(2);
    // A copy of the buckets as they are now, for the older snapshot below.
    olderBuckets = join(dir, 'older-buckets');
    await cp(join(dir, 'buckets'), olderBuckets, { recursive: true });

    // Act: the database is deleted (a dropped database, an embedded one gone with its folder); a new one is
    // made from the buckets.
    await first.close();
    rebuilt = await platformOver(engine, dir);
    const progress: string[] = [];
    const report = await rebuildDatabase(rebuilt, catalog, { onProgress: (m) => progress.push(m) });

    // Assess: the same answers, everything restored, and what could not be said.
    expect(await answers(rebuilt, appOver(rebuilt), reader.apiKey!.key)).toEqual(before);
    expect(report).toMatchObject({ empty: true, notLoaded: [] });
    expect(report.added.versions).toHaveLength(3);
    expect(report.added.events).toHaveLength(5);
    expect(report.added.quarantined).toHaveLength(2);
    expect(report.added.releases).toHaveLength(1);
    expect(report.added.productVersions).toHaveLength(2);
    expect(report.loaded).toEqual([expect.objectContaining({ version: before.current, rows: 11 })]);
    expect(progress).toContain(`loading sites@${before.current} (1/1)`);
    expect(report.notRestored.join('\n')).toMatch(/runs that had not finished.*Hawk nonces/s);
    expect(before.newestRun).toMatchObject({ status: 'succeeded', lineage: { inputs: before.show.inputs } });
  });

  it('after a rebuild, the same work duplicates nothing and new work loses nothing', async () => {
    // Act: the same inputs again, the current bytes again, a quarantined file again; then a new file and a build.
    const stale = await staleDependents(rebuilt.db, catalog, { kind: 'dataset', name: 'sites' });
    const again = await build(rebuilt, 'input');
    const resent = await send(rebuilt, 'eleven-again.csv', sites(11, 'b'));
    const stillRefused = await send(rebuilt, 'six-again.csv', sites(6, 'd'));
    const twelve = await send(rebuilt, 'twelve.csv', sites(12, 'e'));
    const built = await build(rebuilt);

    // Assess
    expect(stale).toEqual([]);
    expect(again.result).toMatchObject({ upToDate: true, version: before.newest!.version });
    expect(resent.result).toMatchObject({ created: false, version: before.current });
    expect(stillRefused.status).toBe('failed');
    expect(await listQuarantine(rebuilt.db)).toHaveLength(2);
    const versions = await listVersions(rebuilt.db, 'sites');
    expect(versions.map((v) => v.version)).toEqual([
      twelve.result!.version,
      ...before.versions.map((v) => v.version),
    ]);
    expect((await history(rebuilt.db, 'sites')).slice(0, 5)).toEqual(before.history);
    expect(await listProductVersions(rebuilt.store, 'site_points')).toHaveLength(3);
    expect(built.lineage).toMatchObject({ inputs: [{ version: twelve.result!.version }] });
  });

  it('adds to a database restored from an older snapshot only what it lacks, and refuses one that lacks nothing', async () => {
    // Prepare: an "older snapshot": a database made from the buckets as they were before the work above.
    const older = await platformOver(engine, dir, olderBuckets);
    try {
      await rebuildDatabase(older, catalog);
      const atNow = { ...older, store: rebuilt.store };

      // Act: the snapshot comes back beside the buckets of today.
      const dry = await rebuildDatabase(atNow, catalog, { dryRun: true });
      const report = await rebuildDatabase(atNow, catalog);

      // Assess: only the newer records, and the same answers as the database that never stopped.
      expect(dry.added).toEqual(report.added);
      expect(report).toMatchObject({ empty: false, dryRun: false });
      expect(report.added.versions).toHaveLength(1);
      expect(report.added.productVersions).toHaveLength(1);
      expect(report.added.events.length).toBeGreaterThan(0);
      expect(report.added.quarantined).toEqual([]);
      expect(await currentVersion(atNow.db, 'sites')).toEqual(await currentVersion(rebuilt.db, 'sites'));
      expect(await history(atNow.db, 'sites')).toEqual(await history(rebuilt.db, 'sites'));
      expect(await newestVersion(atNow.db, 'site_points')).toEqual(
        await newestVersion(rebuilt.db, 'site_points'),
      );
      expect(await atNow.db.query('SELECT count(*)::int AS n FROM datasets.sites')).toEqual([{ n: 12 }]);
      await expect(rebuildDatabase(atNow, catalog)).rejects.toThrow(NothingToRebuildError);
      await expect(rebuildDatabase(atNow, catalog)).rejects.toThrow(/not behind the buckets/);
    } finally {
      await older.close();
    }
  });
});
