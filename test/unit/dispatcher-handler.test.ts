import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ECSClient, ListTasksCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
} from '@aws-sdk/client-rds-data';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';

const event = JSON.parse(readFileSync(join(import.meta.dirname, '../events/sqs/jobs-batch.json'), 'utf8'));
const context = {
  functionName: 'dispatcher',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

describe('dispatcher handler', () => {
  const ecs = mockClient(ECSClient);
  const rds = mockClient(RDSDataClient);
  const sqs = mockClient(SQSClient);
  let handler: (e: unknown, c: Context) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

  beforeAll(async () => {
    Object.assign(process.env, {
      STRATA_ECS_CLUSTER: 'arn:aws:ecs:eu-west-2:222222222222:cluster/strata',
      STRATA_TASK_DEFINITIONS: JSON.stringify({ small: 'td-small', medium: 'td-medium', large: 'td-large' }),
      STRATA_TASK_SUBNETS: 'subnet-a,subnet-b',
      STRATA_TASK_SECURITY_GROUP: 'sg-1',
      STRATA_TASK_PUBLIC_IP: 'true',
      STRATA_MAX_CONCURRENT_TASKS: '10',
      STRATA_DB_CLUSTER_ARN: 'arn:aws:rds:eu-west-2:222222222222:cluster:strata',
      STRATA_DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-2:222222222222:secret:db',
      STRATA_DB_NAME: 'strata',
      STRATA_JOBS_QUEUE_URL: 'https://sqs.eu-west-2.amazonaws.com/222222222222/strata-jobs',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_DEV: 'true',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      AWS_REGION: 'eu-west-2',
    });
    const mod = await import('../../lambdas/dispatcher/handler.ts');
    handler = (e, c) =>
      (
        mod.handler as unknown as (
          e: unknown,
          c: Context,
        ) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>
      )(e, c);
  });

  it('starts a task per job, holds a throttled RunTask back as a delayed message, and reports a refused one as a batch item failure', async () => {
    // Prepare: both runs can be claimed; RunTask works for the build, is throttled for the ingest the first
    // time and refused (a bad request) the second.
    ecs.reset();
    rds.reset();
    sqs.reset();
    ecs.on(ListTasksCommand).resolves({ taskArns: [] });
    ecs
      .on(RunTaskCommand, { taskDefinition: 'td-medium' })
      .resolves({ tasks: [{ taskArn: 'arn:task/build' }], failures: [] });
    ecs
      .on(RunTaskCommand, { taskDefinition: 'td-small' })
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .rejects(Object.assign(new Error('TaskDefinition is inactive'), { name: 'ClientException' }));
    sqs.on(SendMessageCommand).resolves({});
    // The cap is checked and the run claimed in one transaction (issue 18).
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-1' });
    rds.on(CommitTransactionCommand).resolves({});
    rds.on(ExecuteStatementCommand).callsFake((input: { sql: string }) =>
      // The run is waiting for a task with room under the cap, and its claim goes through.
      input.sql.startsWith('SELECT EXISTS')
        ? { formattedRecords: '[{"waiting":true,"active":0}]' }
        : input.sql.includes('SET task = :p2, job')
          ? { formattedRecords: '[{"id":"claimed"}]' }
          : { formattedRecords: '[]' },
    );
    // Act
    const first = await handler(event, context);
    const second = await handler(event, context);
    // Assess: throttling waits as a new delayed message (no delivery used); a refusal is retried by SQS.
    expect(first).toEqual({ batchItemFailures: [] });
    const held = sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({ DelaySeconds: 30 });
    expect(JSON.parse(held[0]!.MessageBody!)).toMatchObject({
      runId: '20261122T090000000Z-bbbbbbbb',
      held: 1,
    });
    expect(second).toEqual({
      batchItemFailures: [{ itemIdentifier: '2e1424d4-f796-459a-8184-9c92662be6da' }],
    });
    const runTasks = ecs.commandCalls(RunTaskCommand).map((c) => c.args[0].input);
    expect(runTasks.slice(0, 2).map((i) => [i.taskDefinition, i.tags?.[0]?.value])).toEqual([
      ['td-medium', '20261122T090000000Z-aaaaaaaa'],
      ['td-small', '20261122T090000000Z-bbbbbbbb'],
    ]);
    expect(runTasks[0]!.networkConfiguration?.awsvpcConfiguration).toEqual({
      subnets: ['subnet-a', 'subnet-b'],
      securityGroups: ['sg-1'],
      assignPublicIp: 'ENABLED',
    });
    // The refused run's claim was given back through the Data API, and why it failed was noted on it.
    const sqls = rds.commandCalls(ExecuteStatementCommand).map((c) => c.args[0].input);
    const claims = sqls.filter((s) => s.sql?.includes('SET task = :p2, job'));
    expect(claims.every((s) => s.transactionId === 'tx-1')).toBe(true);
    expect(sqls.some((s) => s.sql?.includes('pg_advisory_xact_lock') && s.transactionId === 'tx-1')).toBe(
      true,
    );
    expect(
      sqls
        .filter((s) => s.sql?.startsWith('UPDATE strata.runs SET task = :p3'))
        .map((s) => s.parameters?.[2]?.value),
    ).toEqual([
      { stringValue: 'arn:task/build' },
      { isNull: true },
      { stringValue: 'arn:task/build' },
      { isNull: true },
    ]);
    const noted = sqls.find((s) => s.sql?.startsWith('UPDATE strata.runs SET error'));
    expect(JSON.parse(noted!.parameters![1]!.value!.stringValue!)).toMatchObject({
      code: 'DISPATCH_FAILED',
      message: expect.stringMatching(/TaskDefinition is inactive/),
    });
  });
});
