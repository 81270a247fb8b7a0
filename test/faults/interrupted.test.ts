// No run stays interrupted. A task stopped by SIGTERM keeps its task id for the
// reconciler; heartbeats keep a working job hidden; every interrupted run is retried or, past its attempts,
// failed with the cause — locally too; a job taken twice is not lost.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureBundle } from '../../bin/bundle.mjs';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { executeJob } from '../../runtime/jobs/execute.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { openLocalPlatform } from '../../runtime/platform/local.ts';
import type { Platform } from '../../runtime/platform/platform.ts';
import type { ObjectStore } from '../../runtime/ports/object-store.ts';
import { MAX_ATTEMPTS } from '../../runtime/runs/registry.ts';
import { recoverOrphans, workLoop } from '../../runtime/serve/worker.ts';
import { onTaskStopped } from '../../runtime/triggers/reconcile.ts';
import { engines, freshDatabaseUrl, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { notesCatalog, writeNotes } from '../helpers/notes.ts';
import { until } from '../helpers/wait.ts';

const TASK = 'arn:aws:ecs:eu-west-2:222222222222:task/strata/sigterm';

describe.each(engines())('faults: interrupted runs on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  let n = 0;
  const ingestJob = async () => {
    const path = await writeNotes(p.dir, `i-${++n}.csv`, 3, `#${n}`);
    return submit(
      p,
      { kind: 'ingest', dataset: 'notes', source: { path }, filename: 'i.csv' },
      { kind: 'upload' },
    );
  };

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await notesCatalog(join(p.dir, 'catalog'));
  });
  afterAll(async () => p?.close());
  beforeEach(async () => {
    await p.db.query('DELETE FROM strata.jobs');
  });

  it('a task stopped by SIGTERM keeps its task id, so the stop event retries its run', async () => {
    // Prepare: a run dispatched to a task that started it.
    const run = await p.runs.create(
      'build',
      'copy',
      { kind: 'schedule' },
      { kind: 'build', product: 'copy' },
    );
    await p.runs.claims.claimForDispatch(run.id, 'claim:x', {
      kind: 'build',
      runId: run.id,
      product: 'copy',
    });
    await p.runs.claims.settleDispatch(run.id, 'claim:x', TASK);
    await p.runs.start(run.id, 'task a');
    // Act: SIGTERM: the task marks its run interrupted (as tasks/main.ts does); then ECS reports the stop.
    await p.runs.fail(
      run.id,
      { code: 'INTERRUPTED', message: 'the task was stopped (SIGTERM) before the run finished' },
      undefined,
      'interrupted',
    );
    const kept = await p.runs.claims.dispatchOf(run.id);
    const outcome = await onTaskStopped(
      {
        taskArn: TASK,
        stopCode: 'SpotInterruption',
        stoppedReason: 'Task stopped',
        containers: [{ exitCode: 143 }],
      },
      { runs: p.runs, queue: p.queue },
    );
    // Assess: the task was still recorded, the run is retried, and its attempt says SIGTERM, once.
    expect(kept?.task).toBe(TASK);
    expect(outcome).toMatchObject({ status: 'retried', runId: run.id, delaySeconds: 60 });
    expect((await p.runs.claims.dispatchOf(run.id))?.task).toBeNull();
    expect(await p.runs.attempts(run.id)).toEqual([
      expect.objectContaining({
        attempt: 1,
        status: 'interrupted',
        cause: expect.objectContaining({ message: expect.stringMatching(/SIGTERM/) }),
      }),
    ]);
    await p.db.query('UPDATE strata.jobs SET visible_at = now()');
    const [again] = await p.queue.receive(1, 60);
    expect(again?.job).toMatchObject({ runId: run.id, retry: 1 });
  });

  it('heartbeats keep a job hidden from other workers for as long as it works', async () => {
    // Prepare: the archive step waits for the test, so the job is in hand for as long as the test wants.
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let reached = false;
    const store: ObjectStore = Object.create(p.store, {
      put: {
        value: async (...args: Parameters<ObjectStore['put']>) => {
          if (args[0] === 'archive' && !reached) {
            reached = true;
            await gate;
          }
          return p.store.put(...args);
        },
      },
    });
    const gated: Platform = { ...p, store };
    const run = await ingestJob();
    const beats: (() => void)[] = [];
    let stopping = false;
    const loop = workLoop(gated, catalog, {
      stopping: () => stopping,
      heartbeatMs: 1000,
      visibilitySeconds: 60,
      idleMs: 20,
      log: () => {},
      name: 'w1',
      every: (_ms, fn) => {
        beats.push(fn);
        return () => {};
      },
    });
    await until('the job to be in hand', () => reached);
    const visibleAt = async () =>
      (
        await p.db.query<{ at: string }>(
          "SELECT to_char(visible_at, 'YYYY-MM-DD HH24:MI:SS.US') AS at FROM strata.jobs WHERE run_id = $1",
          [run.id],
        )
      )[0]?.at;
    const before = await visibleAt();
    // Act: a heartbeat.
    beats[0]!();
    // Assess: the job is hidden for longer, and a second worker gets nothing.
    await until('the heartbeat to extend the job', async () =>
      (await visibleAt())! > before! ? true : undefined,
    );
    expect(await p.queue.receive(1, 60)).toEqual([]);
    release();
    await until('the run to succeed', async () =>
      (await p.runs.get(run.id)).status === 'succeeded' ? true : undefined,
    );
    stopping = true;
    await loop;
    expect((await p.runs.get(run.id)).attempts).toBe(1);
  });

  it(`a run whose worker keeps dying fails after ${MAX_ATTEMPTS} attempts with the cause, locally too`, async () => {
    const run = await ingestJob();
    // Act: each time, a worker takes the job and dies; the next serve start recovers the run.
    const outcomes = [];
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const [m] = await p.queue.receive(1, 60);
      expect(m?.job.runId).toBe(run.id);
      await p.runs.start(run.id, `worker ${i}`);
      await recoverOrphans(p, 'all');
      outcomes.push((await p.runs.get(run.id)).status);
    }
    // Assess
    expect(outcomes).toEqual([...Array(MAX_ATTEMPTS - 1).fill('interrupted'), 'failed']);
    const failed = await p.runs.get(run.id);
    expect(failed.error?.message).toBe(
      `its worker stopped before the run finished; gave up after ${MAX_ATTEMPTS} attempts`,
    );
    const attempts = await p.runs.attempts(run.id);
    expect(attempts.map((a) => [a.attempt, a.status, a.worker])).toEqual(
      Array.from({ length: MAX_ATTEMPTS }, (_, i) => [
        i + 1,
        i < MAX_ATTEMPTS - 1 ? 'interrupted' : 'failed',
        `worker ${i}`,
      ]),
    );
  });

  it('a job taken twice (past its visibility) is not lost when the worker that had it dies', async () => {
    const run = await ingestJob();
    // Worker A takes it and starts; its visibility runs out; worker B takes the same job, finds the run
    // running, and deletes it as done by someone else. Then A dies.
    const [a] = await p.queue.receive(1, 60);
    await p.runs.start(run.id, 'worker a');
    await p.db.query('UPDATE strata.jobs SET visible_at = now()');
    const [b] = await p.queue.receive(1, 60);
    expect(b?.receipt).toBe(a?.receipt);
    expect((await executeJob(p, catalog, b!.job)).status).toBe('running');
    await p.queue.delete(b!.receipt);
    // Act: recovery finds the orphan with no job left, and sends its job again from the run.
    expect(await recoverOrphans(p, 'all')).toEqual([run.id]);
    const [again] = await p.queue.receive(1, 60);
    const done = await executeJob(p, catalog, again!.job);
    // Assess
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
  });
});

describe.runIf(process.env.DATABASE_URL)('faults: a task stopped by SIGTERM (process, postgres)', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('on SIGTERM the task marks its run interrupted, keeps its task id and exits 143; the stop event retries it', async () => {
    // Prepare: a database, a catalog whose product's step waits on a lock the test holds, a loaded input.
    const url = (await freshDatabaseUrl())!;
    const home = await mkdtemp(join(tmpdir(), 'strata-sigterm-'));
    const catalogDir = join(home, 'catalog');
    const catalog = await notesCatalog(catalogDir, {
      products: {
        slow: {
          product: { inputs: { notes: 'notes' }, outputs: [{ table: 'out', formats: ['csv'] }] },
          sql: {
            '010_out.sql':
              'SELECT pg_advisory_lock(4242);\nCREATE TABLE out AS SELECT count(*)::int AS n FROM notes;',
          },
        },
      },
    });
    const p = await openLocalPlatform({ home, databaseUrl: url });
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      const path = await writeNotes(home, 'n.csv', 2);
      const { runIngest } = await import('../../runtime/jobs/ingest.ts');
      await runIngest(p, catalog, {
        dataset: 'notes',
        path,
        filename: 'n.csv',
        origin: { kind: 'file', from: path },
      });
      const run = await p.runs.create(
        'build',
        'slow',
        { kind: 'schedule' },
        { kind: 'build', product: 'slow' },
      );
      const job = { kind: 'build' as const, runId: run.id, product: 'slow' };
      await p.runs.claims.claimForDispatch(run.id, 'claim:y', job);
      await p.runs.claims.settleDispatch(run.id, 'claim:y', TASK);
      await holder.query('SELECT pg_advisory_lock(4242)');
      const task = (await ensureBundle()).task!;
      let stdout = '';
      child = spawn('node', [task], {
        cwd: join(import.meta.dirname, '..', '..'),
        env: {
          ...process.env,
          DATABASE_URL: url,
          STRATA_HOME: home,
          STRATA_CATALOG: catalogDir,
          STRATA_JOB: JSON.stringify(job),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (d) => {
        stdout += d;
      });
      // The step has started and waits on the lock.
      await until('the step to start', () => stdout.includes('"message":"010_out.sql start"'), 120_000);
      // Act
      child.kill('SIGTERM');
      const code = await until('the task to exit', () => child!.exitCode ?? undefined, 60_000);
      // Assess
      expect(code).toBe(143);
      const stopped = await p.runs.claims.dispatchOf(run.id);
      expect(stopped).toMatchObject({
        task: TASK,
        run: { status: 'interrupted', error: { code: 'INTERRUPTED' } },
      });
      const outcome = await onTaskStopped(
        {
          taskArn: TASK,
          stopCode: 'UserInitiated',
          stoppedReason: 'Task stopped by user',
          containers: [{ exitCode: 143 }],
        },
        { runs: p.runs, queue: p.queue },
      );
      expect(outcome).toMatchObject({ status: 'retried', runId: run.id });
      expect(await p.store.list('egress', 'products/slow/')).toEqual([]);
    } finally {
      await holder.end();
      await p.close();
    }
  });
});
