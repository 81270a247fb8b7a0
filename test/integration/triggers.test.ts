import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { parseIngressKey } from '../../runtime/layout/buckets.ts';
import type { JobMessage, TaskSize } from '../../runtime/ports/job-queue.ts';
import { CapacityError, type TaskLauncher } from '../../runtime/ports/task-launcher.ts';
import { dispatch } from '../../runtime/triggers/dispatch.ts';
import { onObjectCreated } from '../../runtime/triggers/ingress.ts';
import { checkHeartbeats, onTaskStopped } from '../../runtime/triggers/reconcile.ts';
import { onSchedule } from '../../runtime/triggers/schedule.ts';
import { onWebhook, parseWebhookSecrets, verifySignature } from '../../runtime/triggers/webhook.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { silentLog } from '../helpers/log.ts';

const fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, '../events/eventbridge/s3-object-created.json'), 'utf8'),
);
const objectOf = (event: typeof fixture) => ({
  bucket: event.detail.bucket.name,
  key: event.detail.object.key,
  size: event.detail.object.size,
  etag: event.detail.object.etag,
  versionId: event.detail.object['version-id'],
});

/** A launcher that records what it was asked, and fails when told to. */
class FakeLauncher implements TaskLauncher {
  constructor(private readonly prefix = 'arn:task/') {}
  launched: { job: JobMessage; size: TaskSize }[] = [];
  failFor = new Map<string, Error>();
  busy = 0;
  async launch(job: JobMessage, size: TaskSize): Promise<string> {
    const error = this.failFor.get(job.runId);
    if (error) throw error;
    this.launched.push({ job, size });
    return `${this.prefix}${this.launched.length}`;
  }
  async running(): Promise<number> {
    return this.busy;
  }
  stopped: string[] = [];
  async stop(task: string): Promise<void> {
    this.stopped.push(task);
  }
}

describe.each(engines())('triggers on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  const deps = () => ({ catalog, runs: p.runs, queue: p.queue, maxBytes: 50 * 1024 * 1024 });
  const drain = async () => {
    const jobs = await p.queue.receive(10, 60);
    for (const j of jobs) await p.queue.delete(j.receipt);
    return jobs.map((j) => j.job);
  };

  beforeAll(async () => {
    p = await testPlatform(engine);
    const columns = [{ name: 'id', type: 'integer' }];
    catalog = await writeCatalog(join(p.dir, 'catalog'), {
      datasets: {
        world_places: { format: 'csv', columns, geometry: { kind: 'none' }, maxBytes: 20 * 1024 * 1024 },
        partner_counts: {
          format: 'csv',
          columns,
          geometry: { kind: 'none' },
          source: { kind: 'partner', partner: 'acme' },
        },
      },
      products: {
        summary: {
          product: { inputs: { w: 'world_places' }, outputs: [{ table: 'out' }] },
          sql: { '010_out.sql': 'CREATE TABLE out AS SELECT * FROM w;' },
        },
      },
    });
  });
  afterAll(async () => p?.close());
  beforeEach(async () => {
    await drain();
  });

  it('reads dataset and partner keys, and refuses others with the reason', () => {
    expect(parseIngressKey('datasets/world_places/a b.csv')).toEqual({
      dataset: 'world_places',
      filename: 'a b.csv',
    });
    expect(parseIngressKey('partners/acme/partner_counts/x.csv')).toEqual({
      dataset: 'partner_counts',
      filename: 'x.csv',
      partner: 'acme',
    });
    expect(parseIngressKey('uploads/x.csv')).toMatchObject({
      rejected: expect.stringMatching(/keys must be datasets/),
    });
    expect(parseIngressKey('datasets/Bad-Name/x.csv')).toMatchObject({
      rejected: '"Bad-Name" is not a dataset name',
    });
  });

  it('turns an upload into one queued ingest run and its job, however often the event comes', async () => {
    // Prepare
    const object = objectOf(fixture);
    // Act
    const first = await onObjectCreated(object, deps());
    const again = await onObjectCreated(object, deps());
    // Assess
    expect(first).toMatchObject({ status: 'queued', dataset: 'world_places' });
    expect(again).toEqual({ ...first, status: 'duplicate' });
    const runs = await p.runs.list({ target: 'world_places' });
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      kind: 'ingest',
      status: 'queued',
      trigger: { kind: 'upload', detail: { key: object.key } },
    });
    // The job was sent for the run, again while it still waits (a lost send is not stuck), never for another run.
    const jobs = await drain();
    expect(jobs.map((j) => j.runId)).toEqual([
      first.status === 'queued' ? first.runId : '',
      first.status === 'queued' ? first.runId : '',
    ]);
    expect(jobs[0]).toMatchObject({
      kind: 'ingest',
      dataset: 'world_places',
      source: { bucket: 'ingress', key: object.key },
      filename: 'places-2026-11.csv',
    });
    // A new version of the same key is a new run.
    const next = await onObjectCreated({ ...object, versionId: 'v2', etag: 'e2' }, deps());
    expect(next.status).toBe('queued');
  });

  it('rejects unknown datasets, oversize and empty files, and partners writing where they may not', async () => {
    const base = objectOf(fixture);
    const outcomes = await Promise.all([
      onObjectCreated({ ...base, key: 'datasets/nowhere/x.csv' }, deps()),
      onObjectCreated({ ...base, key: 'datasets/world_places/big.csv', size: 30 * 1024 * 1024 }, deps()),
      onObjectCreated({ ...base, key: 'datasets/world_places/empty.csv', size: 0 }, deps()),
      onObjectCreated({ ...base, key: 'partners/evil/partner_counts/x.csv' }, deps()),
      onObjectCreated({ ...base, key: 'datasets/partner_counts/x.csv' }, deps()),
    ]);
    expect(outcomes.map((o) => (o.status === 'rejected' ? o.reason : o.status))).toEqual([
      'datasets/nowhere/x.csv: dataset "nowhere" is not in the catalog',
      'datasets/world_places/big.csv: 31457280 bytes is over the limit of 20971520',
      'datasets/world_places/empty.csv: the object is empty',
      'partners/evil/partner_counts/x.csv: dataset "partner_counts" takes no uploads from partner "evil"',
      'datasets/partner_counts/x.csv: dataset "partner_counts" is fed by partner, not by uploads',
    ]);
    expect(await drain()).toEqual([]);
    const ok = await onObjectCreated({ ...base, key: 'partners/acme/partner_counts/x.csv' }, deps());
    expect(ok.status).toBe('queued');
  });

  it('queues one build per schedule firing, and says what it cannot do yet', async () => {
    const fired = { kind: 'product' as const, name: 'summary', time: '2026-11-22T03:00:00Z' };
    const first = await onSchedule(fired, deps());
    expect(first.status).toBe('queued');
    expect((await onSchedule(fired, deps())).status).toBe('duplicate');
    expect((await onSchedule({ ...fired, time: '2026-11-23T03:00:00Z' }, deps())).status).toBe('queued');
    expect(await onSchedule({ ...fired, name: 'nope' }, deps())).toEqual({
      status: 'rejected',
      reason: 'product "nope" is not in the catalog',
    });
    expect((await onSchedule({ kind: 'dataset', name: 'world_places', time: 't' }, deps())).status).toBe(
      'rejected',
    );
  });

  it('dispatches one task per job, drops a job delivered twice, and retries only what failed', async () => {
    // Prepare: three queued runs.
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await p.runs.create('build', 'summary', { kind: 'cli' })).id);
    const message = (runId: string, n = 0) => ({
      id: `m-${runId}-${n}`,
      body: JSON.stringify({ kind: 'build', runId, product: 'summary' }),
    });
    const launcher = new FakeLauncher();
    launcher.failFor.set(ids[2]!, Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    // Act: run 0 twice in one batch, run 1 once, run 2 throttled, and a message that is no job.
    const result = await dispatch(
      [
        message(ids[0]!),
        message(ids[0]!, 1),
        message(ids[1]!),
        message(ids[2]!),
        { id: 'junk', body: '{"x":1}' },
      ],
      {
        runs: p.runs,
        launcher,
        queue: p.queue,
        maxConcurrent: 10,
        log: silentLog,
      },
    );
    // Assess
    expect(launcher.launched.map((l) => [l.job.runId, l.size])).toEqual([
      [ids[0], 'medium'],
      [ids[1], 'medium'],
    ]);
    expect(result).toEqual({ retry: [`m-${ids[2]}-0`, 'junk'], started: 2, held: 0 });
    // The throttled run's claim was given back, so the retry can start it.
    launcher.failFor.clear();
    expect(
      await dispatch([message(ids[2]!)], {
        runs: p.runs,
        launcher,
        queue: p.queue,
        maxConcurrent: 10,
        log: silentLog,
      }),
    ).toEqual({ retry: [], started: 1, held: 0 });
    const tasks = await p.db.query<{ id: string; task: string }>(
      'SELECT id, task FROM strata.runs WHERE id = ANY($1) ORDER BY id',
      [ids],
    );
    // Runs made in the same millisecond sort by their random suffix, so look them up in the order they were made.
    const taskOf = new Map(tasks.map((t) => [t.id, t.task]));
    expect(ids.map((id) => taskOf.get(id))).toEqual(['arn:task/1', 'arn:task/2', 'arn:task/3']);
  });

  it('holds jobs back at the concurrency cap and on capacity errors, as new delayed messages that use up no deliveries', async () => {
    const run = await p.runs.create('ingest', 'world_places', { kind: 'cli' });
    const job = { kind: 'build', runId: run.id, product: 'summary', size: 'large' };
    const launcher = new FakeLauncher();
    const deps = { runs: p.runs, launcher, queue: p.queue, maxConcurrent: 4, log: silentLog };
    const delays = async () =>
      p.db.query<{ held: number; delay: number }>(
        `SELECT (body->>'held')::int AS held, round(extract(epoch FROM visible_at - enqueued_at))::int AS delay
         FROM strata.jobs WHERE run_id = $1 ORDER BY id`,
        [run.id],
      );
    launcher.busy = 4;
    expect(await dispatch([{ id: 'm1', body: JSON.stringify(job) }], deps)).toEqual({
      retry: [],
      started: 0,
      held: 1,
    });
    launcher.busy = 0;
    launcher.failFor.set(run.id, new CapacityError('no Fargate capacity'));
    expect(await dispatch([{ id: 'm2', body: JSON.stringify({ ...job, held: 1 }) }], deps)).toEqual({
      retry: [],
      started: 0,
      held: 1,
    });
    // Each hold is a new message with a longer delay; nothing was reported back to SQS as a failure.
    expect(await delays()).toEqual([
      { held: 1, delay: 30 },
      { held: 2, delay: 60 },
    ]);
    await p.db.query('DELETE FROM strata.jobs WHERE run_id = $1', [run.id]);
    launcher.failFor.clear();
    expect(await dispatch([{ id: 'm3', body: JSON.stringify({ ...job, held: 2 }) }], deps)).toEqual({
      retry: [],
      started: 1,
      held: 0,
    });
    expect(launcher.launched[0]!.size).toBe('large');
  });

  it("checks webhook signatures before anything, guards against replays, and builds the hook's product", async () => {
    const body = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', note: 'ünïcödé' }));
    const sign = (b: Buffer, secret: string) =>
      `sha256=${createHmac('sha256', secret).update(b).digest('hex')}`;
    const wd = () => ({
      ...deps(),
      secrets: parseWebhookSecrets(JSON.stringify({ summary: 's3cret', default: 'shared' }), 'test'),
    });
    const before = (await p.runs.list({ target: 'summary' })).length;

    const forged = await onWebhook(
      { hook: 'summary', body, signature: sign(body, 'wrong'), deliveryId: 'd1' },
      wd(),
    );
    const missing = await onWebhook({ hook: 'summary', body, signature: undefined, deliveryId: 'd1' }, wd());
    const tampered = await onWebhook(
      {
        hook: 'summary',
        body: Buffer.concat([body, Buffer.from(' ')]),
        signature: sign(body, 's3cret'),
        deliveryId: 'd1',
      },
      wd(),
    );
    expect([forged.statusCode, missing.statusCode, tampered.statusCode]).toEqual([401, 401, 401]);
    expect((await p.runs.list({ target: 'summary' })).length).toBe(before);
    expect(await drain()).toEqual([]);

    const ok = await onWebhook(
      { hook: 'summary', body, signature: sign(body, 's3cret'), deliveryId: 'd1' },
      wd(),
    );
    expect(ok).toMatchObject({ statusCode: 202, body: { status: 'queued' } });
    const replay = await onWebhook(
      { hook: 'summary', body, signature: sign(body, 's3cret'), deliveryId: 'd1' },
      wd(),
    );
    expect(replay).toMatchObject({ statusCode: 200, body: { runId: ok.body.runId, duplicate: true } });
    // The replay found the run still queued, so its job was sent again (a send lost the first time is not
    // stuck); a job is idempotent by run id, so one run is all it makes.
    expect((await drain()).map((j) => j.runId)).toEqual([ok.body.runId, ok.body.runId]);

    expect(
      (await onWebhook({ hook: 'nope', body, signature: sign(body, 'shared'), deliveryId: 'd2' }, wd()))
        .statusCode,
    ).toBe(404);
    expect(
      (
        await onWebhook(
          { hook: 'summary', body, signature: sign(body, 's3cret'), deliveryId: undefined },
          wd(),
        )
      ).statusCode,
    ).toBe(400);
  });

  it('keeps run statuses true when a task dies: retries after OOM one size larger, fails when it never starts, past its retries', async () => {
    const oom = JSON.parse(
      readFileSync(join(import.meta.dirname, '../events/eventbridge/ecs-task-stopped-oom.json'), 'utf8'),
    );
    const neverStarted = JSON.parse(
      readFileSync(join(import.meta.dirname, '../events/eventbridge/ecs-task-never-started.json'), 'utf8'),
    );
    // Prepare: two runs dispatched to tasks 1 and 2 (the second already retried three times).
    // Task ARNs are unique on ECS: this launcher's do not collide with the other tests'.
    const launcher = new FakeLauncher('arn:aws:ecs:eu-west-2:222222222222:task/strata/reconcile-');
    const arn = (n: number) => `arn:aws:ecs:eu-west-2:222222222222:task/strata/reconcile-${n}`;
    const a = await p.runs.create('ingest', 'world_places', { kind: 'cli' });
    const b = await p.runs.create('build', 'summary', { kind: 'cli' });
    const jobA = {
      kind: 'ingest',
      runId: a.id,
      dataset: 'world_places',
      source: { bucket: 'ingress', key: 'datasets/world_places/x.csv' },
      filename: 'x.csv',
    };
    const jobB = { kind: 'build', runId: b.id, product: 'summary', retry: 3 };
    await dispatch(
      [
        { id: 'a', body: JSON.stringify(jobA) },
        { id: 'b', body: JSON.stringify(jobB) },
      ],
      { runs: p.runs, launcher, queue: p.queue, maxConcurrent: 10, log: silentLog },
    );
    await p.runs.start(a.id);
    await drain();

    // Act + assess: the out-of-memory kill.
    const first = await onTaskStopped({ ...oom.detail, taskArn: arn(1) }, { runs: p.runs, queue: p.queue });
    expect(first).toEqual({
      status: 'retried',
      runId: a.id,
      cause: 'the task ran out of memory (exit code 137)',
      size: 'medium',
      delaySeconds: 60,
    });
    expect(await p.runs.get(a.id)).toMatchObject({
      status: 'interrupted',
      error: { code: 'TASK_STOPPED', task: arn(1) },
    });
    expect(await p.queue.receive(10, 60)).toEqual([]); // held back by the backoff
    await p.db.query('UPDATE strata.jobs SET visible_at = now()');
    const [again] = await drain();
    expect(again).toMatchObject({ runId: a.id, size: 'medium', retry: 1 });
    // The retried job can be dispatched again: the interruption gave the claim back.
    expect(
      (
        await dispatch([{ id: 'a2', body: JSON.stringify(again) }], {
          runs: p.runs,
          launcher,
          queue: p.queue,
          maxConcurrent: 10,
          log: silentLog,
        })
      ).started,
    ).toBe(1);

    const second = await onTaskStopped(
      { ...neverStarted.detail, taskArn: arn(2) },
      { runs: p.runs, queue: p.queue },
    );
    expect(second).toMatchObject({ status: 'failed', runId: b.id });
    expect((await p.runs.get(b.id)).error?.message).toMatch(
      /^the task never started: CannotPullContainerError/,
    );
    expect(await drain()).toEqual([]);

    // A task whose run recorded its own end, and a task Strata never started, change nothing.
    await p.runs.succeed(a.id, {});
    expect(
      (await onTaskStopped({ ...oom.detail, taskArn: arn(3) }, { runs: p.runs, queue: p.queue })).status,
    ).toBe('ignored');
    expect(
      (await onTaskStopped({ ...oom.detail, taskArn: 'arn:other' }, { runs: p.runs, queue: p.queue })).status,
    ).toBe('ignored');
  });

  it('stops a task whose run stopped heartbeating and retries the run, without asking the database when no task runs', async () => {
    const launcher = new FakeLauncher('arn:aws:ecs:eu-west-2:222222222222:task/strata/hung-');
    const run = await p.runs.create('build', 'summary', { kind: 'cli' });
    const job = { kind: 'build', runId: run.id, product: 'summary' };
    await dispatch([{ id: 'h', body: JSON.stringify(job) }], {
      runs: p.runs,
      launcher,
      queue: p.queue,
      maxConcurrent: 10,
      log: silentLog,
    });
    await p.runs.start(run.id);
    await p.db.query("UPDATE strata.runs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1", [
      run.id,
    ]);
    // Nothing running and no job waiting: the check leaves the database alone.
    await p.db.query('DELETE FROM strata.jobs');
    launcher.busy = 0;
    expect(await checkHeartbeats({ runs: p.runs, queue: p.queue, launcher })).toEqual([]);
    launcher.busy = 1;
    const [outcome] = await checkHeartbeats({ runs: p.runs, queue: p.queue, launcher });
    expect(outcome).toMatchObject({
      status: 'retried',
      runId: run.id,
      cause: expect.stringMatching(/no heartbeat for over 600 s/),
    });
    expect(launcher.stopped).toEqual(['arn:aws:ecs:eu-west-2:222222222222:task/strata/hung-1']);
    expect((await p.runs.get(run.id)).status).toBe('interrupted');
  });
});

describe('verifySignature', () => {
  it("matches GitHub's documented example", () => {
    const header = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(verifySignature(Buffer.from('Hello, World!'), header, "It's a Secret to Everybody")).toBe(true);
    expect(verifySignature(Buffer.from('Hello, World?'), header, "It's a Secret to Everybody")).toBe(false);
    expect(verifySignature(Buffer.from('Hello, World!'), 'sha256=abc', "It's a Secret to Everybody")).toBe(
      false,
    );
    expect(verifySignature(Buffer.from('Hello, World!'), 'sha1=757107', "It's a Secret to Everybody")).toBe(
      false,
    );
  });
});
