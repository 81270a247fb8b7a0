// The database restarted in the middle of a load and of a build, and two workers racing for one job: a
// worker never dies of an error outside its job, and an outage pauses work and resumes it, losing nothing.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../runtime/adapters/local/fs-object-store.ts';
import { PgDatabase } from '../../runtime/adapters/postgres/pg-database.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { migrate } from '../../runtime/db/migrate.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { localQueueAndRuns } from '../../runtime/platform/local.ts';
import type { Platform } from '../../runtime/platform/platform.ts';
import type { CopyChunk, Database, RowCount } from '../../runtime/ports/database.ts';
import type { Bucket, ObjectStore } from '../../runtime/ports/object-store.ts';
import { listProductVersions } from '../../runtime/publish/versions.ts';
import type { RunRegistry } from '../../runtime/runs/registry.ts';
import { serveConnections } from '../../runtime/serve/serve.ts';
import { workLoop } from '../../runtime/serve/worker.ts';
import { engines, freshDatabaseUrl, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { notesCatalog, writeNotes } from '../helpers/notes.ts';
import { until } from '../helpers/wait.ts';
import { ownCluster } from './own-cluster.ts';

/** A database that can be taken away: while `down`, every call fails as a dropped connection does. */
class FlakyDatabase implements Database {
  down = false;
  constructor(private readonly inner: Database) {}
  get engine() {
    return this.inner.engine;
  }
  get parallelCopies() {
    return this.inner.parallelCopies;
  }
  private check(): void {
    if (this.down)
      throw Object.assign(new Error('terminating connection due to administrator command'), {
        code: '57P01',
      });
  }
  async query<R>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    this.check();
    return this.inner.query<R>(sql, params);
  }
  async exec(sql: string): Promise<void> {
    this.check();
    return this.inner.exec(sql);
  }
  async session<T>(fn: () => Promise<T>): Promise<T> {
    this.check();
    return this.inner.session(fn);
  }
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    this.check();
    return this.inner.transaction(fn);
  }
  async beside<T>(fn: () => Promise<T>): Promise<T> {
    this.check();
    return this.inner.beside(fn);
  }
  async copyFrom(
    t: string,
    o: string,
    c: AsyncIterable<CopyChunk>,
    h?: Buffer,
    copy?: { parallel?: boolean },
  ) {
    this.check();
    return this.inner.copyFrom(t, o, c, h, copy);
  }
  copyToCsv(select: string, count?: RowCount) {
    this.check();
    return this.inner.copyToCsv(select, count);
  }
  copyToLines(select: string, count?: RowCount) {
    this.check();
    return this.inner.copyToLines(select, count);
  }
  close() {
    return this.inner.close();
  }
}

/** A store whose first put to `bucket` waits for the test: the point at which the test pulls the plug. */
function gatedStore(store: ObjectStore, bucket: Bucket) {
  let release!: () => void;
  const opened = new Promise<void>((r) => {
    release = r;
  });
  const state = { reached: false, release };
  const gated: ObjectStore = Object.create(store, {
    put: {
      value: async (...args: Parameters<ObjectStore['put']>) => {
        if (args[0] === bucket && !state.reached) {
          state.reached = true;
          await opened;
        }
        return store.put(...args);
      },
    },
  });
  return { store: gated, state };
}

/** Runs worker loops until `done` says so, and returns what they logged. */
async function withWorkers(
  p: Platform,
  catalog: Catalog,
  count: number,
  body: (log: string[]) => Promise<unknown>,
): Promise<string[]> {
  const log: string[] = [];
  let stopping = false;
  const loops = Array.from({ length: count }, (_, i) =>
    workLoop(p, catalog, {
      stopping: () => stopping,
      heartbeatMs: 500,
      idleMs: 20,
      maxBackoffMs: 100,
      log: (m) => log.push(m),
      name: `worker ${i + 1}`,
    }),
  );
  try {
    await body(log);
  } finally {
    stopping = true;
    await Promise.all(loops);
  }
  return log;
}

const complete = async (store: ObjectStore) =>
  (await store.list('archive', 'datasets/notes/')).filter((o) => o.key.endsWith('/metadata.json')).length;

describe.each(engines())('faults: workers on $name', (engine) => {
  let base: TestPlatform;
  let catalog: Catalog;
  let n = 0;
  const file = () => writeNotes(base.dir, `w-${++n}.csv`, 4, `#${n}`);

  beforeAll(async () => {
    base = await testPlatform(engine);
    catalog = await notesCatalog(join(base.dir, 'catalog'));
  });
  afterAll(async () => base?.close());
  beforeEach(async () => {
    await base.db.query('DELETE FROM strata.jobs');
  });

  it('a worker survives a job it cannot read and a failure to record a run, and goes on working', async () => {
    // Prepare: a job row that is no job; a job whose run cannot be recorded as failed the first time;
    // and a good job after them.
    const poisoned = await base.runs.create('build', 'copy', { kind: 'schedule' });
    await base.db.query(`INSERT INTO strata.jobs (run_id, body) VALUES ($1, '{"kind":"explode"}')`, [
      poisoned.id,
    ]);
    const broken = await submit(
      base,
      {
        kind: 'ingest',
        dataset: 'notes',
        source: { path: join(base.dir, 'missing.csv') },
        filename: 'm.csv',
      },
      { kind: 'cli' },
    );
    const good = await submit(
      base,
      { kind: 'ingest', dataset: 'notes', source: { path: await file() }, filename: 'g.csv' },
      { kind: 'cli' },
    );
    let failures = 0;
    const runs: RunRegistry = Object.create(base.runs, {
      fail: {
        value: async (...args: Parameters<RunRegistry['fail']>) => {
          if (failures++ === 0) throw new Error('deadlock detected');
          return base.runs.fail(...args);
        },
      },
    });
    const p: Platform = { ...base, runs };
    // Act
    const log = await withWorkers(p, catalog, 1, () =>
      until('every run to end', async () => {
        const ended = await Promise.all([poisoned, broken, good].map((r) => base.runs.get(r.id)));
        return ended.every((r) => r.status === 'succeeded' || r.status === 'failed') ? ended : undefined;
      }),
    );
    // Assess
    expect(await base.runs.get(poisoned.id)).toMatchObject({
      status: 'failed',
      error: { code: 'DEAD_LETTER', message: expect.stringMatching(/the job cannot be read: kind/) },
    });
    const brokenRun = await base.runs.get(broken.id);
    expect(brokenRun).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'LOAD_FAILED' } });
    expect((await base.runs.attempts(broken.id)).map((a) => [a.status, a.cause?.code])).toEqual([
      ['interrupted', 'WORKER_ERROR'],
      ['failed', 'LOAD_FAILED'],
    ]);
    expect(await base.runs.get(good.id)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(log.some((l) => l.includes('deadlock detected'))).toBe(true);
  });

  it('the database goes away in the middle of a load; the worker pauses, resumes, and the run is retried, archived once', async () => {
    const flaky = new FlakyDatabase(base.db);
    const gate = gatedStore(base.store, 'archive');
    const p: Platform = { ...base, db: flaky, store: gate.store, ...localQueueAndRuns(flaky) };
    const run = await submit(
      p,
      { kind: 'ingest', dataset: 'notes', source: { path: await file() }, filename: 'o.csv' },
      { kind: 'cli' },
    );
    const before = await complete(base.store);
    const log = await withWorkers(p, catalog, 1, async (log) => {
      await until('the archive step', () => gate.state.reached);
      flaky.down = true;
      gate.state.release();
      await until('the worker to pause', () => log.some((l) => l.includes('pausing until it answers')));
      flaky.down = false;
      await until('the run to succeed', async () =>
        (await base.runs.get(run.id)).status === 'succeeded' ? true : undefined,
      );
    });
    const done = await base.runs.get(run.id);
    // The bytes copied before the outage are taken up; they become a version only when a load passes the
    // contract, which this attempt's did.
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { created: true, rows: 4 } });
    expect((await base.runs.attempts(run.id))[0]).toMatchObject({
      status: 'interrupted',
      cause: { code: 'DATABASE_UNAVAILABLE' },
    });
    expect(await complete(base.store)).toBe(before + 1);
    expect(log.some((l) => l.includes('resuming'))).toBe(true);
    // The ingest's job is done and gone; what may wait is the rebuild it queued (`copy` reads notes), which
    // the stopped worker may or may not have taken yet.
    const left = await base.db.query<{ run_id: string }>(
      'SELECT run_id FROM strata.jobs WHERE dead_at IS NULL',
    );
    expect(left.filter((j) => j.run_id === run.id)).toEqual([]);
  });

  it('the database restarted in the middle of a build (simulated): the build publishes nothing half-done and is retried to one version', async () => {
    const path = await file();
    await runIngest(base, catalog, {
      dataset: 'notes',
      path,
      filename: 'b.csv',
      origin: { kind: 'file', from: path },
    });
    const flaky = new FlakyDatabase(base.db);
    const gate = gatedStore(base.store, 'egress');
    const p: Platform = { ...base, db: flaky, store: gate.store, ...localQueueAndRuns(flaky) };
    const versionsBefore = (await listProductVersions(base.store, 'copy')).length;
    const run = await submit(p, { kind: 'build', product: 'copy' }, { kind: 'cli' });
    await withWorkers(p, catalog, 1, async (log) => {
      await until('the export', () => gate.state.reached);
      flaky.down = true;
      gate.state.release();
      await until('the worker to pause', () => log.some((l) => l.includes('pausing until it answers')));
      // Nothing of the interrupted attempt is a version.
      expect((await listProductVersions(base.store, 'copy')).length).toBe(versionsBefore);
      flaky.down = false;
      await until('the build to succeed', async () =>
        (await base.runs.get(run.id)).status === 'succeeded' ? true : undefined,
      );
    });
    const versions = await listProductVersions(base.store, 'copy');
    expect(versions.length).toBe(versionsBefore + 1);
    expect(versions.filter((v) => v.runId === run.id)).toHaveLength(1);
    expect(await base.runs.get(run.id)).toMatchObject({ attempts: 2 });
  });

  it('two workers racing for one job: it is done once', async () => {
    const run = await submit(
      base,
      { kind: 'ingest', dataset: 'notes', source: { path: await file() }, filename: 'r.csv' },
      { kind: 'cli' },
    );
    // The same job delivered twice, and two workers each taking what they can.
    const [job] = await base.queue.receive(1, 60);
    await base.queue.send(job!.job);
    await base.queue.send(job!.job);
    await base.queue.delete(job!.receipt);
    const log = await withWorkers(base, catalog, 2, () =>
      until('the run to succeed and its jobs to go', async () =>
        (await base.runs.get(run.id)).status === 'succeeded' && (await base.queue.depth()) === 0
          ? true
          : undefined,
      ),
    );
    const done = await base.runs.get(run.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(await base.runs.attempts(run.id)).toHaveLength(1);
    // Each delivery was taken by one worker only: the one that ran it, or one that found it done or running.
    expect(log.filter((l) => new RegExp(`run ${run.id} (succeeded|running)$`).test(l))).toHaveLength(2);
  });
});

describe.runIf(process.env.DATABASE_URL)('faults: a real database restart (own PostgreSQL cluster)', () => {
  let cluster: Awaited<ReturnType<typeof ownCluster>>;
  let p: Platform;
  let catalog: Catalog;
  let dir: string;

  beforeAll(async () => {
    cluster = await ownCluster();
    const db = await PgDatabase.open(cluster.url);
    await migrate(db);
    dir = await mkdtemp(join(tmpdir(), 'strata-restart-'));
    p = {
      db,
      store: new FsObjectStore(join(dir, 'buckets')),
      ...localQueueAndRuns(db),
      close: () => db.close(),
    };
    catalog = await notesCatalog(join(dir, 'catalog'), {
      products: {
        slow: {
          product: { inputs: { notes: 'notes' }, outputs: [{ table: 'out', formats: ['csv'] }] },
          sql: {
            '010_out.sql':
              'SELECT pg_advisory_lock(77);\nCREATE TABLE out AS SELECT count(*)::int AS n FROM notes;',
          },
        },
      },
    });
  }, 180_000);
  afterAll(async () => {
    await p?.close().catch(() => {});
    cluster?.destroy();
  });

  it('the server restarts in the middle of a load; the worker pauses, resumes, and nothing is archived twice', async () => {
    const gate = gatedStore(p.store, 'archive');
    const gp: Platform = { ...p, store: gate.store };
    const run = await submit(
      gp,
      {
        kind: 'ingest',
        dataset: 'notes',
        source: { path: await writeNotes(dir, 'a.csv', 5) },
        filename: 'a.csv',
      },
      { kind: 'cli' },
    );
    await withWorkers(gp, catalog, 1, async (log) => {
      await until('the archive step', () => gate.state.reached);
      cluster.stop();
      gate.state.release();
      await until('the worker to pause', () => log.some((l) => l.includes('pausing until it answers')));
      cluster.start();
      await until(
        'the run to succeed',
        async () => ((await p.runs.get(run.id)).status === 'succeeded' ? true : undefined),
        120_000,
      );
    });
    expect(await p.runs.get(run.id)).toMatchObject({ attempts: 2, result: { rows: 5 } });
    expect(await complete(p.store)).toBe(1);
  });

  it('the database restarted in the middle of a build: nothing half-published, and the build is retried to one version', async () => {
    const holder = new pg.Client({ connectionString: cluster.url });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock(77)');
    // Only this build on the queue (the load before queued rebuilds of its own). A worker of that test may
    // have built one before it stopped: what was published before this build is set aside, not assumed none.
    await p.db.query('DELETE FROM strata.jobs');
    const before = (await listProductVersions(p.store, 'slow')).map((v) => v.runId);
    const run = await submit(p, { kind: 'build', product: 'slow' }, { kind: 'cli' });
    await withWorkers(p, catalog, 1, async () => {
      // The step is running, waiting for the lock the test holds.
      await until('the step to wait on the lock', async () => {
        const [w] = await p.db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        );
        return w!.n > 0 ? true : undefined;
      });
      holder.on('error', () => {});
      cluster.stop();
      cluster.start();
      await until(
        'the build to succeed',
        async () =>
          (await p.runs.get(run.id).catch(() => undefined))?.status === 'succeeded' ? true : undefined,
        120_000,
      );
    });
    await holder.end().catch(() => {});
    const done = await p.runs.get(run.id);
    expect(done.attempts).toBe(2);
    expect((await p.runs.attempts(run.id))[0]).toMatchObject({
      status: 'interrupted',
      cause: { code: 'DATABASE_UNAVAILABLE' },
    });
    const versions = await listProductVersions(p.store, 'slow');
    expect(versions.map((v) => v.runId)).toEqual([run.id, ...before]);
  });
});

describe.runIf(process.env.DATABASE_URL)('faults: as many workers as connections, on a server', () => {
  /** Eight workers, eight builds of one product after a first version: seven wait their turn in a session. */
  async function eightBuilds(connections: number) {
    const url = (await freshDatabaseUrl())!;
    const db = await PgDatabase.open(url, { max: connections });
    const dir = await mkdtemp(join(tmpdir(), 'strata-pool-'));
    const p: Platform = {
      db,
      store: new FsObjectStore(join(dir, 'buckets')),
      ...localQueueAndRuns(db),
      close: () => db.close(),
    };
    try {
      await migrate(db);
      const catalog = await notesCatalog(join(dir, 'catalog'));
      const notes = await writeNotes(dir, 'n.csv', 20);
      await runIngest(p, catalog, {
        dataset: 'notes',
        path: notes,
        filename: 'n.csv',
        origin: { kind: 'file', from: notes },
      });
      await workUntil(p, catalog, (await submit(p, { kind: 'build', product: 'copy' }, { kind: 'cli' })).id);
      // From here each build's QA report reads the version before it on a connection beside its session.
      const builds: Awaited<ReturnType<typeof submit>>[] = [];
      for (let i = 0; i < 8; i++)
        builds.push(await submit(p, { kind: 'build', product: 'copy' }, { kind: 'cli' }));
      await withWorkers(p, catalog, 8, () =>
        until(
          'every build to end',
          async () => {
            const runs = await Promise.all(builds.map((b) => p.runs.get(b.id)));
            return runs.every((r) => r.status === 'succeeded' || r.status === 'failed') ? runs : undefined;
          },
          // Far above the seconds eight small builds take; a pool they exhaust waits for ever.
          120_000,
        ),
      );
      return (await listProductVersions(p.store, 'copy')).length;
    } finally {
      await p.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('all end with the pool strata serve opens for its workers (with a pool of 8 they waited for ever)', async () => {
    expect(await eightBuilds(serveConnections(8))).toBe(9);
  }, 180_000);
});
