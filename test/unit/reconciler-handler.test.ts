import { ECSClient } from '@aws-sdk/client-ecs';
import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';

const context = {
  functionName: 'reconciler',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

const RUN = '20261122T090000000Z-aaaaaaaa';
const row = (status: string) =>
  JSON.stringify([
    {
      id: RUN,
      kind: 'build',
      target: 'county_places',
      trigger: '{"kind":"schedule"}',
      status,
      attempts: 1,
      created_at: '2026-11-22T09:00:00.000Z',
      started_at: null,
      finished_at: null,
      error: '{"code":"BUILD_FAILED","message":"step failed"}',
      lineage: null,
      result: null,
      job: `{"kind":"build","runId":"${RUN}","product":"county_places","retry":2}`,
      previous: 'failed',
    },
  ]);

describe('reconciler handler: the redrive event', () => {
  const rds = mockClient(RDSDataClient);
  const sqs = mockClient(SQSClient);
  mockClient(ECSClient);
  let handler: (e: unknown, c: Context) => Promise<{ status: string; outcomes: unknown[] }>;

  beforeAll(async () => {
    Object.assign(process.env, {
      STRATA_ECS_CLUSTER: 'arn:aws:ecs:eu-west-2:222222222222:cluster/strata',
      STRATA_TASK_DEFINITIONS: JSON.stringify({ small: 'td-s', medium: 'td-m', large: 'td-l' }),
      STRATA_TASK_SUBNETS: 'subnet-a',
      STRATA_TASK_SECURITY_GROUP: 'sg-1',
      STRATA_TASK_PUBLIC_IP: 'true',
      STRATA_JOBS_QUEUE_URL: 'https://sqs.eu-west-2.amazonaws.com/222222222222/strata-jobs',
      STRATA_DB_CLUSTER_ARN: 'arn:aws:rds:eu-west-2:222222222222:cluster:strata',
      STRATA_DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-2:222222222222:secret:db',
      STRATA_DB_NAME: 'strata',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_DEV: 'true',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      AWS_REGION: 'eu-west-2',
    });
    const mod = await import('../../lambdas/reconciler/handler.ts');
    handler = mod.handler as unknown as typeof handler;
  });

  it('sends a named failed run again through the registry and the queue, with its retries started afresh', async () => {
    // Prepare: the run is failed; requeueing it answers the run as queued.
    rds.on(ExecuteStatementCommand).callsFake((input: { sql: string }) => ({
      formattedRecords: input.sql.includes("SET status = 'queued'") ? row('queued') : row('failed'),
    }));
    sqs.on(SendMessageCommand).resolves({});
    // Act
    const out = await handler({ action: 'redrive', runs: [RUN], by: 'ops@example.org' }, context);
    // Assess
    expect(out).toEqual({
      status: 'redriven',
      outcomes: [{ runId: RUN, kind: 'build', target: 'county_places', status: 'queued' }],
    });
    const requeue = rds
      .commandCalls(ExecuteStatementCommand)
      .map((c) => c.args[0].input)
      .find((i) => i.sql?.includes("SET status = 'queued'"));
    expect(requeue?.parameters?.[1]?.value).toEqual({ stringValue: 'ops@example.org' });
    const sent = sqs.commandCalls(SendMessageCommand).map((c) => JSON.parse(c.args[0].input.MessageBody!));
    expect(sent).toEqual([{ kind: 'build', runId: RUN, product: 'county_places' }]);
  });

  it('refuses a redrive event it cannot read', async () => {
    await expect(handler({ action: 'redrive', runs: 'not a list' }, context)).rejects.toThrow(/runs/);
  });
});
