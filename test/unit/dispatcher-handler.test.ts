import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ECSClient, ListTasksCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
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

  it('starts a task per job and reports only the throttled RunTask as a batch item failure', async () => {
    // Prepare: both runs can be claimed; RunTask works for the build and is throttled for the ingest.
    ecs.on(ListTasksCommand).resolves({ taskArns: [] });
    ecs
      .on(RunTaskCommand, { taskDefinition: 'td-medium' })
      .resolves({ tasks: [{ taskArn: 'arn:task/build' }], failures: [] });
    ecs
      .on(RunTaskCommand, { taskDefinition: 'td-small' })
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    rds
      .on(ExecuteStatementCommand)
      .callsFake((input: { sql: string }) =>
        input.sql.includes('SET task = :p2, job')
          ? { formattedRecords: '[{"id":"claimed"}]' }
          : { formattedRecords: '[]' },
      );
    // Act
    const out = await handler(event, context);
    // Assess
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: '2e1424d4-f796-459a-8184-9c92662be6da' }] });
    const runTasks = ecs.commandCalls(RunTaskCommand).map((c) => c.args[0].input);
    expect(runTasks.map((i) => [i.taskDefinition, i.tags?.[0]?.value])).toEqual([
      ['td-medium', '20261122T090000000Z-aaaaaaaa'],
      ['td-small', '20261122T090000000Z-bbbbbbbb'],
    ]);
    expect(runTasks[0]!.networkConfiguration?.awsvpcConfiguration).toEqual({
      subnets: ['subnet-a', 'subnet-b'],
      securityGroups: ['sg-1'],
      assignPublicIp: 'ENABLED',
    });
    // The throttled run's claim was given back through the Data API, so the retry can start it.
    const sqls = rds.commandCalls(ExecuteStatementCommand).map((c) => c.args[0].input);
    expect(
      sqls
        .filter((s) => s.sql?.startsWith('UPDATE strata.runs SET task = :p3'))
        .map((s) => s.parameters?.[2]?.value),
    ).toEqual([{ stringValue: 'arn:task/build' }, { isNull: true }]);
  });
});
