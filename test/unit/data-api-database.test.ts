import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
} from '@aws-sdk/client-rds-data';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DataApiDatabase } from '../../runtime/adapters/aws/data-api-database.ts';

const target = {
  resourceArn: 'arn:aws:rds:eu-west-2:222222222222:cluster:strata',
  secretArn: 'arn:secret',
  database: 'strata',
};

describe('DataApiDatabase', () => {
  const rds = mockClient(RDSDataClient);
  beforeEach(() => rds.reset());

  it('sends pg-style parameters as typed Data API parameters and reads JSON records', async () => {
    // Prepare
    rds.on(ExecuteStatementCommand).resolves({ formattedRecords: '[{"id":"r1","n":2}]' });
    const db = new DataApiDatabase(target, new RDSDataClient({}));
    // Act
    const rows = await db.query(
      'SELECT * FROM strata.runs WHERE id = $1 AND attempts > $2 AND ok = $3 AND x IS $4',
      ['r1', 1, true, null],
    );
    // Assess
    expect(rows).toEqual([{ id: 'r1', n: 2 }]);
    expect(rds.commandCalls(ExecuteStatementCommand)[0]!.args[0].input).toMatchObject({
      sql: 'SELECT * FROM strata.runs WHERE id = :p1 AND attempts > :p2 AND ok = :p3 AND x IS :p4',
      parameters: [
        { name: 'p1', value: { stringValue: 'r1' } },
        { name: 'p2', value: { longValue: 1 } },
        { name: 'p3', value: { booleanValue: true } },
        { name: 'p4', value: { isNull: true } },
      ],
      formatRecordsAs: 'JSON',
      database: 'strata',
    });
  });

  it('retries while Aurora resumes from 0 ACU', async () => {
    const resuming = Object.assign(new Error('resuming'), { name: 'DatabaseResumingException' });
    rds.on(ExecuteStatementCommand).rejectsOnce(resuming).resolves({ formattedRecords: '[]' });
    const db = new DataApiDatabase(target, new RDSDataClient({}), 10_000);
    await expect(db.query('SELECT 1')).resolves.toEqual([]);
    expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(2);
  });

  it('runs a transaction under one id, one statement a call, and rolls back on error', async () => {
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-1' });
    rds.on(ExecuteStatementCommand).resolves({});
    rds.on(CommitTransactionCommand).resolves({});
    rds.on(RollbackTransactionCommand).resolves({});
    const db = new DataApiDatabase(target, new RDSDataClient({}));
    await db.transaction(() => db.exec('CREATE TABLE a (x int); INSERT INTO a VALUES (1);'));
    expect(
      rds
        .commandCalls(ExecuteStatementCommand)
        .map((c) => [c.args[0].input.sql, c.args[0].input.transactionId]),
    ).toEqual([
      ['CREATE TABLE a (x int)', 'tx-1'],
      ['INSERT INTO a VALUES (1)', 'tx-1'],
    ]);
    expect(rds.commandCalls(CommitTransactionCommand)).toHaveLength(1);
    await expect(db.transaction(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(rds.commandCalls(RollbackTransactionCommand)).toHaveLength(1);
  });
});
