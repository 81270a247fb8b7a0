// Poison messages, the concurrency cap, the dead-letter queue, and ECS RunTask timeouts and capacity errors:
// no run stays queued for ever, whatever happens between the queue and a task.
import { ECSClient, ListTasksCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EcsTaskLauncher } from '../../runtime/adapters/aws/ecs-task-launcher.ts';
import { TableJobQueue } from '../../runtime/adapters/local/table-job-queue.ts';
import type { JobMessage, TaskSize } from '../../runtime/ports/job-queue.ts';
import type { TaskLauncher } from '../../runtime/ports/task-launcher.ts';
import { onDeadLetters } from '../../runtime/triggers/dead-letter.ts';
import { dispatch } from '../../runtime/triggers/dispatch.ts';
import { checkHeartbeats } from '../../runtime/triggers/reconcile.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { silentLog } from '../helpers/log.ts';

class FakeLauncher implements TaskLauncher {
  launched: { job: JobMessage; size: TaskSize }[] = [];
  busy = 0;
  fail: Error | undefined;
  constructor(private readonly prefix: string) {}
  async launch(job: JobMessage, size: TaskSize): Promise<string> {
    if (this.fail) throw this.fail;
    this.launched.push({ job, size });
    return `${this.prefix}${this.launched.length}`;
  }
  async running(): Promise<number> {
    return this.busy;
  }
  async stop(): Promise<void> {}
}

describe.each(engines())('faults: between the queue and a task, on $name', (engine) => {
  let p: TestPlatform;
  /** The jobs queue as SQS behaves: a message received five times without being deleted is dead-lettered. */
  let sqs: TableJobQueue;
  const deps = (launcher: TaskLauncher, maxConcurrent = 2) => ({
    runs: p.runs,
    launcher,
    queue: sqs,
    maxConcurrent,
    log: silentLog,
  });
  /**
   * One delivery, as the dispatcher's event source makes it: receive a message, dispatch it, delete it
   * unless reported back as a failure (then it comes back, as SQS makes it visible again).
   */
  const deliver = async (launcher: TaskLauncher, maxConcurrent = 2) => {
    const [m] = await sqs.receive(1, 60);
    if (!m) return undefined;
    const out = await dispatch(
      [{ id: m.receipt, body: JSON.stringify(m.job) }],
      deps(launcher, maxConcurrent),
    );
    if (out.retry.includes(m.receipt)) await sqs.extend(m.receipt, 0);
    else await sqs.delete(m.receipt);
    return { ...out, receives: m.receives };
  };
  /** Time passes: every delayed message is due. */
  const elapse = () => p.db.query('UPDATE strata.jobs SET visible_at = now() WHERE dead_at IS NULL');
  const newRun = async () => {
    const run = await p.runs.create(
      'build',
      'copy',
      { kind: 'schedule' },
      { kind: 'build', product: 'copy' },
    );
    await sqs.send({ kind: 'build', runId: run.id, product: 'copy' });
    return run;
  };

  beforeAll(async () => {
    p = await testPlatform(engine);
    sqs = new TableJobQueue(p.db, { maxReceives: 5 });
  });
  afterAll(async () => p?.close());
  beforeEach(async () => {
    await p.db.query('DELETE FROM strata.jobs');
    // The cap counts runs holding a task in the database: each test starts with none (the fake tasks of the
    // tests before never run, so their runs would hold their slots for ever).
    await p.db.query('TRUNCATE strata.runs CASCADE');
  });

  it('a job held back by the concurrency cap waits without using up deliveries, and starts when room frees', async () => {
    // Prepare: the cap is full.
    const run = await newRun();
    const launcher = new FakeLauncher('arn:held-');
    launcher.busy = 2;
    // Act: eight rounds at the cap, far more than the five deliveries SQS allows a message.
    const rounds = [];
    for (let i = 0; i < 8; i++) {
      rounds.push(await deliver(launcher));
      await elapse();
    }
    launcher.busy = 0;
    const last = await deliver(launcher);
    // Assess: each round was a fresh message received once, with a growing delay; nothing dead-lettered.
    expect(rounds.map((r) => [r?.held, r?.receives])).toEqual(Array.from({ length: 8 }, () => [1, 1]));
    expect(last).toMatchObject({ started: 1, retry: [] });
    const [dead] = await p.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM strata.jobs WHERE dead_at IS NOT NULL',
    );
    expect(dead!.n).toBe(0);
    expect(launcher.launched.map((l) => l.job)).toEqual([
      expect.objectContaining({ runId: run.id, held: 8 }),
    ]);
    expect((await p.runs.claims.dispatchOf(run.id))?.task).toBe('arn:held-1');
  });

  it('a job that reaches the dead-letter queue fails its run with the reason', async () => {
    // Prepare: RunTask refuses the task definition every time, so SQS gives the job up.
    const run = await newRun();
    const launcher = new FakeLauncher('arn:dlq-');
    launcher.fail = new Error('TaskDefinition is inactive');
    const outs = [];
    for (let i = 0; i < 6; i++) outs.push(await deliver(launcher));
    const [dead] = await p.db.query<{ body: JobMessage }>(
      'SELECT body FROM strata.jobs WHERE dead_at IS NOT NULL',
    );
    expect(outs.filter((o) => o?.retry.length === 1)).toHaveLength(5);
    expect(dead).toBeDefined();
    // Act: the dead-letter consumer gets the message (and the same message again, and a stray one).
    const body = JSON.stringify(dead!.body);
    const out = await onDeadLetters(
      [
        { id: 'd1', body },
        { id: 'd2', body },
        { id: 'd3', body: JSON.stringify({ kind: 'build', runId: 'no-such-run', product: 'copy' }) },
      ],
      { runs: p.runs, log: silentLog },
    );
    // Assess: failed once, with what RunTask said; the attempt is recorded with its cause.
    expect(out).toEqual({ failed: [run.id], unreadable: [] });
    const failed = await p.runs.get(run.id);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'DEAD_LETTER' } });
    expect(failed.error?.message).toBe(
      'its job could not be dispatched and went to the dead-letter queue: the task could not be started: TaskDefinition is inactive',
    );
    expect(await p.runs.attempts(run.id)).toEqual([
      expect.objectContaining({ attempt: 1, startedAt: null, status: 'failed', cause: failed.error }),
    ]);
  });

  it('a claim left by a dispatcher that died is recovered, by the next delivery and by the scheduled check', async () => {
    // Prepare: two runs a dispatcher claimed and then died (before RunTask), six minutes ago.
    const a = await newRun();
    const b = await newRun();
    await p.db.query('DELETE FROM strata.jobs');
    for (const r of [a, b])
      expect(
        await p.runs.claims.claimForDispatch(r.id, `claim:dead-${r.id}`, {
          kind: 'build',
          runId: r.id,
          product: 'copy',
        }),
      ).toBe(true);
    const launcher = new FakeLauncher('arn:claim-');
    // A fresh claim is respected: a second delivery now starts nothing.
    await sqs.send({ kind: 'build', runId: a.id, product: 'copy' });
    expect(await deliver(launcher)).toMatchObject({ started: 0 });
    await p.db.query("UPDATE strata.runs SET claimed_at = now() - interval '6 minutes' WHERE id = ANY($1)", [
      [a.id, b.id],
    ]);

    // Act 1: SQS delivers a's message again (the dead dispatcher's batch came back).
    await sqs.send({ kind: 'build', runId: a.id, product: 'copy' });
    const redelivered = await deliver(launcher);
    // Act 2: b's message is gone; the reconciler's scheduled check finds the claim (a job waits, so it looks).
    await sqs.send({ kind: 'build', runId: 'unrelated', product: 'copy' });
    const checked = await checkHeartbeats({ runs: p.runs, queue: sqs, launcher });

    // Assess
    expect(redelivered).toMatchObject({ started: 1 });
    expect((await p.runs.claims.dispatchOf(a.id))?.task).toBe('arn:claim-1');
    expect(checked).toEqual([{ status: 'reclaimed', runId: b.id }]);
    const sent = (await sqs.receive(10, 60)).map((m) => m.job.runId);
    expect(sent).toContain(b.id);
    expect((await p.runs.claims.dispatchOf(b.id))?.task).toBeNull();
  });

  it('poison messages: a message that is no job goes to the dead-letter queue, where it is counted and dropped', async () => {
    const launcher = new FakeLauncher('arn:poison-');
    const poison = { id: 'junk', body: '{"kind":"explode"' };
    const dispatched = await dispatch([poison], deps(launcher));
    const dead = await onDeadLetters([poison], { runs: p.runs, log: silentLog });
    expect(dispatched).toEqual({ retry: ['junk'], started: 0, held: 0 });
    expect(dead).toEqual({ failed: [], unreadable: ['junk'] });
    expect(launcher.launched).toEqual([]);
  });

  it('ECS RunTask timeouts and capacity errors hold the job back; a refusal is retried until the dead-letter queue', async () => {
    // Prepare: the ECS adapter over a mocked client that times out, then has no capacity, then refuses.
    const ecs = mockClient(ECSClient);
    ecs.on(ListTasksCommand).resolves({ taskArns: [] });
    ecs
      .on(RunTaskCommand)
      .rejectsOnce(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }))
      .resolvesOnce({ failures: [{ reason: 'RESOURCE:MEMORY' }], tasks: [] })
      .rejectsOnce(
        Object.assign(new Error('Rate exceeded'), {
          name: 'ThrottlingException',
          $metadata: { httpStatusCode: 400 },
        }),
      )
      .resolvesOnce({ failures: [{ reason: 'MISSING', detail: 'task definition td-large' }], tasks: [] })
      .resolves({ tasks: [{ taskArn: 'arn:ecs-task' }] });
    const launcher = new EcsTaskLauncher(
      {
        cluster: 'c',
        taskDefinitions: { small: 'td-s', medium: 'td-m', large: 'td-l' },
        subnets: ['s'],
        securityGroups: ['g'],
        assignPublicIp: false,
      },
      new ECSClient({ region: 'eu-west-2' }),
    );
    const run = await newRun();
    // Act
    const outs = [];
    for (let i = 0; i < 5; i++) {
      outs.push(await deliver(launcher, 10));
      await elapse();
    }
    // Assess: timeout, no capacity and throttling waited as delayed messages; the refusal used a delivery
    // and noted why on the run; then the task started.
    expect(outs.map((o) => [o?.held, o?.retry.length, o?.started])).toEqual([
      [1, 0, 0],
      [1, 0, 0],
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect((await p.runs.claims.dispatchOf(run.id))?.task).toBe('arn:ecs-task');
    await expect(launcher.launch({ kind: 'build', runId: 'x', product: 'copy' }, 'small')).resolves.toBe(
      'arn:ecs-task',
    );
    ecs.restore();
  });
});
