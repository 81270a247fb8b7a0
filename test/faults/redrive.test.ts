// An operator sends failed runs again without SQL — `strata runs retry`, `strata runs
// replay --failed --since`, the same functions the reconciler's redrive event calls on AWS — and every
// attempt is kept with its cause.
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { executeJob } from '../../runtime/jobs/execute.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { redriveRun, replayFailed } from '../../runtime/runs/redrive.ts';
import type { Run } from '../../runtime/runs/schema.ts';
import { parseSince } from '../../runtime/runs/since.ts';
import { engines, processEngines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { notesCatalog, writeNotes } from '../helpers/notes.ts';

const ROOT = join(import.meta.dirname, '..', '..');

describe.each(engines())('faults: redriving runs on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  const work = async (run: Run) => {
    const jobs = await p.queue.receive(10, 60);
    for (const j of jobs) await p.queue.delete(j.receipt);
    const job = jobs.find((j) => j.job.runId === run.id)!.job;
    return executeJob(p, catalog, job);
  };

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await notesCatalog(join(p.dir, 'catalog'));
  });
  afterAll(async () => p?.close());

  it('a failed run is sent again as a new attempt of the same run, and its first cause is kept', async () => {
    // Prepare: a build that fails (its input has no version yet); then the input arrives.
    const failed = await work(await submit(p, { kind: 'build', product: 'copy' }, { kind: 'schedule' }));
    expect(failed.status).toBe('failed');
    const path = await writeNotes(p.dir, 'n.csv', 3);
    await work(
      await submit(
        p,
        { kind: 'ingest', dataset: 'notes', source: { path }, filename: 'n.csv' },
        { kind: 'cli' },
      ),
    );
    // Act
    const outcome = await redriveRun(p, failed.id, 'test operator');
    const done = await work(failed);
    // Assess
    expect(outcome).toEqual({ runId: failed.id, kind: 'build', target: 'copy', status: 'queued' });
    expect(done).toMatchObject({ id: failed.id, status: 'succeeded', attempts: 2 });
    expect((await p.runs.attempts(failed.id)).map((a) => [a.status, a.cause?.code ?? null])).toEqual([
      ['failed', 'BUILD_FAILED'],
      ['redriven', 'REDRIVEN'],
      ['succeeded', null],
    ]);
    // A run that succeeded, or is waiting, is not sent again.
    expect(await redriveRun(p, failed.id, 'test operator')).toMatchObject({
      status: 'skipped',
      reason: 'it is succeeded; only failed or interrupted runs are sent again',
    });
  });

  it('replay sends every run that failed since a time: each failed ingest, and once per build target unless a later one succeeded', async () => {
    const since = new Date(Date.now() - 1000);
    const bad = join(p.dir, 'bad.csv');
    await writeFile(bad, 'id,note\nx,not a number\n');
    const ingests = [];
    for (let i = 0; i < 2; i++)
      ingests.push(
        await work(
          await submit(
            p,
            { kind: 'ingest', dataset: 'notes', source: { path: bad }, filename: `bad${i}.csv` },
            { kind: 'upload' },
          ),
        ),
      );
    // Two failed fetches of one dataset (it has no HTTP source).
    const fetches = [];
    for (let i = 0; i < 2; i++)
      fetches.push(await work(await submit(p, { kind: 'fetch', dataset: 'notes' }, { kind: 'schedule' })));
    expect([...ingests, ...fetches].map((r) => r.status)).toEqual(['failed', 'failed', 'failed', 'failed']);
    // Act
    const dry = await replayFailed(p, { since, dryRun: true }, 'test');
    const sent = await replayFailed(p, { since }, 'test');
    // Assess
    const view = (o: typeof sent) => o.map((x) => [x.runId, x.status]).sort();
    expect(view(dry)).toEqual(view(sent));
    expect(view(sent)).toEqual(
      [
        [ingests[0]!.id, 'queued'],
        [ingests[1]!.id, 'queued'],
        [fetches[1]!.id, 'queued'],
        [fetches[0]!.id, 'skipped'],
      ].sort(),
    );
    expect((await p.runs.get(fetches[1]!.id)).status).toBe('queued');
    expect((await p.runs.get(fetches[0]!.id)).status).toBe('failed');
    expect(parseSince('2h', new Date('2026-11-22T12:00:00Z')).toISOString()).toBe('2026-11-22T10:00:00.000Z');
    expect(() => parseSince('yesterday')).toThrow(/neither a duration .* nor a time/);
  });
});

describe.each(processEngines())('faults: strata runs retry | replay | show on $name', (mode) => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  const strata = (...args: string[]) => {
    const r = spawnSync(
      'node',
      ['bin/strata.mjs', '--home', home, '--catalog', join(home, 'catalog'), '--json', ...args],
      {
        cwd: ROOT,
        env,
        encoding: 'utf8',
        timeout: 300_000,
      },
    );
    return { code: r.status, json: r.stdout.trim() ? JSON.parse(r.stdout) : undefined, stderr: r.stderr };
  };
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'strata-redrive-'));
    await notesCatalog(join(home, 'catalog'));
    const url = await mode.url();
    env = { ...process.env };
    if (url) env.DATABASE_URL = url;
    else delete env.DATABASE_URL;
  });

  it('an operator retries a failed build from the command line, and reads its attempts', async () => {
    // Prepare: a build that fails for want of its input; then the input.
    const first = strata('build', 'copy');
    expect(first.code).toBe(1);
    const runId = first.json.run.id as string;
    expect(strata('ingest', 'notes', await writeNotes(home, 'n.csv', 2)).code).toBe(0);
    // Act
    const retried = strata('runs', 'retry', runId);
    const replay = strata('runs', 'replay', '--failed', '--since', '1h', '--dry-run');
    const shown = strata('runs', 'show', runId);
    const again = strata('runs', 'retry', runId);
    // Assess
    expect(retried.code).toBe(0);
    expect(retried.json).toMatchObject({ ok: true, run: { id: runId, status: 'succeeded', attempts: 2 } });
    expect(replay.code).toBe(0);
    expect(replay.json.outcomes).toEqual([]);
    expect(shown.json.attemptLog.map((a: { status: string }) => a.status)).toEqual([
      'failed',
      'redriven',
      'succeeded',
    ]);
    expect(again.code).toBe(1);
    expect(again.json.error.message).toBe(
      `run ${runId} cannot be retried: it is succeeded; only failed or interrupted runs are sent again`,
    );
  }, 900_000);
});
