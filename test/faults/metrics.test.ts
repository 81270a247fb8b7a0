// Every terminal run state is counted where it happens (a failing SQL step or check
// too, not only the reconciler's cases), with the dimension the alarms watch.
import { join } from 'node:path';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { recordRunEnd } from '../../runtime/aws/metrics.ts';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../../runtime/aws/names.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { executeJob } from '../../runtime/jobs/execute.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import type { Platform } from '../../runtime/platform/platform.ts';
import { RunRegistry } from '../../runtime/runs/registry.ts';
import type { Run } from '../../runtime/runs/schema.ts';
import { recoverOrphans } from '../../runtime/serve/worker.ts';
import { onDeadLetters } from '../../runtime/triggers/dead-letter.ts';
import { onTaskStopped } from '../../runtime/triggers/reconcile.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { silentLog } from '../helpers/log.ts';
import { notesCatalog, writeNotes } from '../helpers/notes.ts';
import { synthEnvironment } from '../infra/helpers.ts';

interface Emf {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [key: string]: unknown;
}

/** What Powertools writes to stdout (EMF) for `fn`, parsed. */
function emitted(fn: (metrics: Metrics) => void): Emf[] {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    delete process.env.POWERTOOLS_METRICS_DISABLED;
    delete process.env.POWERTOOLS_DEV;
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
    fn(metrics);
    metrics.publishStoredMetrics();
  } finally {
    spy.mockRestore();
  }
  return lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as Emf);
}

/** Sums each metric over the EMF lines, by dimension set. */
function counts(lines: Emf[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of lines)
    for (const d of l._aws.CloudWatchMetrics[0]!.Dimensions)
      for (const m of l._aws.CloudWatchMetrics[0]!.Metrics) {
        const key = `${m.Name}[${d.map((k) => `${k}=${String(l[k])}`).join(',')}]`;
        // A metric added more than once in one flush is an array of values (EMF sums them).
        const values = ([] as unknown[]).concat(l[m.Name]).map(Number);
        out[key] = (out[key] ?? 0) + values.reduce((a, b) => a + b, 0);
      }
  return out;
}

describe.each(engines())('faults: metrics for every run that ends, on $name', (engine) => {
  let base: TestPlatform;
  let p: Platform;
  let catalog: Catalog;
  const ended: Run[] = [];

  beforeAll(async () => {
    base = await testPlatform(engine);
    p = { ...base, runs: new RunRegistry(base.db, { onFinish: (r) => ended.push(r) }) };
    catalog = await notesCatalog(join(base.dir, 'catalog'), {
      products: {
        bad_sql: {
          product: { inputs: { notes: 'notes' }, outputs: [{ table: 'out', formats: ['csv'] }] },
          sql: { '010_out.sql': 'CREATE TABLE out AS SELECT nope FROM notes;' },
        },
        bad_check: {
          product: {
            inputs: { notes: 'notes' },
            outputs: [{ table: 'out', formats: ['csv'] }],
            checks: [{ type: 'row_count', table: 'out', min: 100 }],
          },
          sql: { '010_out.sql': 'CREATE TABLE out AS SELECT * FROM notes;' },
        },
      },
    });
    const path = await writeNotes(base.dir, 'n.csv', 2);
    await runIngest(p, catalog, {
      dataset: 'notes',
      path,
      filename: 'n.csv',
      origin: { kind: 'file', from: path },
    });
  });
  afterAll(async () => base?.close());

  it('counts succeeded, failed (a SQL step, a check, the dead-letter queue) and interrupted runs, each by kind', async () => {
    const job = async (runP: Promise<Run>) => {
      const run = await runP;
      const [m] = (await p.queue.receive(10, 60)).filter((j) => j.job.runId === run.id);
      return m!.job;
    };
    // A build that succeeds, one whose SQL fails, one whose check fails.
    for (const product of ['copy', 'bad_sql', 'bad_check'])
      await executeJob(p, catalog, await job(submit(p, { kind: 'build', product }, { kind: 'cli' })));
    // A task that stops (interrupted, retried), and a job that dies in the dead-letter queue.
    const stopped = await p.runs.create(
      'build',
      'copy',
      { kind: 'schedule' },
      { kind: 'build', product: 'copy' },
    );
    await p.runs.claims.claimForDispatch(stopped.id, 'claim:m', {
      kind: 'build',
      runId: stopped.id,
      product: 'copy',
    });
    await p.runs.claims.settleDispatch(stopped.id, 'claim:m', 'arn:task/metrics');
    await onTaskStopped(
      { taskArn: 'arn:task/metrics', stopCode: 'TaskFailedToStart', stoppedReason: 'no capacity' },
      p,
    );
    const lost = await p.runs.create('ingest', 'notes', { kind: 'upload' });
    await onDeadLetters(
      [{ id: 'm', body: JSON.stringify({ kind: 'build', runId: lost.id, product: 'copy' }) }],
      { runs: p.runs, log: silentLog },
    );
    // A worker that died.
    const orphan = await p.runs.create(
      'fetch',
      'notes',
      { kind: 'schedule' },
      { kind: 'fetch', dataset: 'notes' },
    );
    await p.runs.start(orphan.id);
    await recoverOrphans(p, 'all');

    // Act: the ends, as a task or a Lambda counts them.
    const lines = emitted((metrics) => {
      for (const run of ended) recordRunEnd(metrics, run);
    });

    // Assess
    expect(ended.map((r) => `${r.kind}:${r.status}`)).toEqual([
      'build:succeeded',
      'build:failed',
      'build:failed',
      'build:interrupted',
      'ingest:failed',
      'fetch:interrupted',
    ]);
    const c = counts(lines);
    expect(c).toMatchObject({
      'RunsSucceeded[service=strata]': 1,
      'RunsFailed[service=strata]': 3,
      'RunsInterrupted[service=strata]': 2,
      'ProductPublished[service=strata]': 1,
      'RunsFailed[service=strata,kind=build]': 2,
      'RunsFailed[service=strata,kind=ingest]': 1,
      'RunsInterrupted[service=strata,kind=fetch]': 1,
    });
    for (const l of lines) expect(l._aws.CloudWatchMetrics[0]!.Namespace).toBe('Strata');
  });
});

describe('faults: the alarms watch what the code emits', () => {
  it('emits RunsFailed with the namespace, name and dimensions the alarms watch', async () => {
    // Prepare: one failed run's metric, as the code emits it.
    const lines = emitted((metrics) =>
      recordRunEnd(metrics, { kind: 'build', status: 'failed', result: null } as unknown as Run),
    );
    const plain = lines.find((l) => l._aws.CloudWatchMetrics[0]!.Dimensions.some((d) => d.length === 1))!;
    const emittedDims = plain._aws.CloudWatchMetrics[0]!.Dimensions[0]!.map((name) => ({
      Name: name,
      Value: plain[name],
    }));
    // Act
    const t = Template.fromStack(await synthEnvironment('child-a'));
    // Assess
    const alarm = Object.values(t.findResources('AWS::CloudWatch::Alarm')).find(
      (a) => a.Properties.MetricName === 'RunsFailed',
    )!;
    expect(alarm.Properties.Namespace).toBe(plain._aws.CloudWatchMetrics[0]!.Namespace);
    expect(alarm.Properties.Dimensions).toEqual(emittedDims);
  });
});
