// The concurrency cap holds when two dispatchers run at once. Each used to read the running tasks, see room
// for one more, and both start one; now the cap is checked and the run claimed as one step.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TableJobQueue } from '../../runtime/adapters/local/table-job-queue.ts';
import type { JobMessage } from '../../runtime/ports/job-queue.ts';
import type { TaskLauncher } from '../../runtime/ports/task-launcher.ts';
import { dispatch } from '../../runtime/triggers/dispatch.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { silentLog } from '../helpers/log.ts';

/** ECS as both dispatchers see it at once: no task running yet. */
class StaleLauncher implements TaskLauncher {
  launched: string[] = [];
  async launch(job: JobMessage): Promise<string> {
    this.launched.push(job.runId);
    return `arn:task/${this.launched.length}`;
  }
  async running(): Promise<number> {
    return 0;
  }
  async stop(): Promise<void> {}
}

describe.each(engines())('the concurrency cap with dispatchers at once, on $name', (engine) => {
  let p: TestPlatform;
  let queue: TableJobQueue;
  const newJob = async (): Promise<JobMessage> => {
    const run = await p.runs.create(
      'build',
      'copy',
      { kind: 'schedule' },
      { kind: 'build', product: 'copy' },
    );
    return { kind: 'build', runId: run.id, product: 'copy' };
  };

  beforeAll(async () => {
    p = await testPlatform(engine);
    queue = new TableJobQueue(p.db, { maxReceives: 5 });
  });
  afterAll(async () => p?.close());
  beforeEach(async () => {
    await p.db.query('DELETE FROM strata.jobs');
    await p.db.query('TRUNCATE strata.runs CASCADE');
  });

  it('lets exactly `cap` claims through when many ask at the same moment', async () => {
    // Prepare
    const jobs = await Promise.all([1, 2, 3, 4, 5].map(() => newJob()));

    // Act
    const outcomes = await Promise.all(
      jobs.map((j, i) => p.runs.claims.claimWithinCap(j.runId, `claim:${i}`, j, 2)),
    );

    // Assess
    expect(outcomes.filter((o) => o === 'claimed')).toHaveLength(2);
    expect(outcomes.filter((o) => o === 'capped')).toHaveLength(3);
    // A run already claimed is taken, whatever the room.
    expect(await p.runs.claims.claimWithinCap(jobs[0]!.runId, 'claim:again', jobs[0]!, 10)).toBe(
      outcomes[0] === 'claimed' ? 'taken' : 'claimed',
    );
  });

  it('starts one task, not two, when two dispatchers each see room for one', async () => {
    // Prepare: a cap of one, and a job for each dispatcher.
    const [a, b] = [await newJob(), await newJob()];
    const launcher = new StaleLauncher();
    const deps = { runs: p.runs, launcher, queue, maxConcurrent: 1, log: silentLog };

    // Act
    const [first, second] = await Promise.all([
      dispatch([{ id: 'm-a', body: JSON.stringify(a) }], deps),
      dispatch([{ id: 'm-b', body: JSON.stringify(b) }], deps),
    ]);

    // Assess: one started; the other was held back (sent again later), not failed and not started.
    expect(launcher.launched).toHaveLength(1);
    expect(first.started + second.started).toBe(1);
    expect(first.held + second.held).toBe(1);
    expect([...first.retry, ...second.retry]).toEqual([]);
    const [held] = await p.db.query<{ n: number }>('SELECT count(*)::int AS n FROM strata.jobs');
    expect(held!.n).toBe(1);
  });

  it('drops the job of a run no longer waiting even when the cap is full, instead of holding it back', async () => {
    // Prepare: a cap of one, held by a claimed run; a second run that a worker has already finished.
    const [holder, done] = [await newJob(), await newJob()];
    expect(await p.runs.claims.claimWithinCap(holder.runId, 'claim:holder', holder, 1)).toBe('claimed');
    await p.runs.start(done.runId);
    await p.runs.succeed(done.runId, {});
    const launcher = new StaleLauncher();
    const deps = { runs: p.runs, launcher, queue, maxConcurrent: 1, log: silentLog };

    // Act
    const direct = await p.runs.claims.claimWithinCap(done.runId, 'claim:late', done, 1);
    const outcome = await dispatch([{ id: 'm-done', body: JSON.stringify(done) }], deps);

    // Assess: skipped as taken, not reported capped and sent again to wait for room it will never use.
    expect(direct).toBe('taken');
    expect(outcome).toEqual({ retry: [], started: 0, held: 0 });
    expect(launcher.launched).toEqual([]);
    const [queued] = await p.db.query<{ n: number }>('SELECT count(*)::int AS n FROM strata.jobs');
    expect(queued!.n).toBe(0);
  });
});
