import { createHmac } from 'node:crypto';
import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type ExecuteStatementCommandInput,
  RDSDataClient,
  RollbackTransactionCommand,
} from '@aws-sdk/client-rds-data';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DataApiDatabase, mayWrite } from '../../runtime/adapters/aws/data-api-database.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import {
  DatabaseOutcomeUnknownError,
  DatabaseUnavailableError,
  isDatabaseUnavailable,
} from '../../runtime/db/transient.ts';
import type { JobMessage } from '../../runtime/ports/job-queue.ts';
import { RunRegistry } from '../../runtime/runs/registry.ts';
import { onWebhook, parseWebhookSecrets } from '../../runtime/triggers/webhook.ts';
import { toProblem } from '../../runtime/web/problem.ts';

const target = {
  resourceArn: 'arn:aws:rds:eu-west-2:222222222222:cluster:strata',
  secretArn: 'arn:secret',
  database: 'strata',
};
/** The budget left to the invocation: short, so a call that never answers is cut short at once. */
const BUDGET_MS = 25;

/** A run row as the Data API returns it (JSON records, jsonb as text). */
const runRow = (id: string) => ({
  id,
  kind: 'build',
  target: 'copy',
  trigger: JSON.stringify({ kind: 'webhook', detail: { delivery: 'd-1' } }),
  status: 'queued',
  attempts: 0,
  created_at: '2026-12-07T10:00:00.000Z',
  started_at: null,
  finished_at: null,
  error: null,
  lineage: null,
  result: null,
  catalog_sha256: null,
  cost: null,
});

type Answer = (input: ExecuteStatementCommandInput) => 'hang' | Record<string, unknown>[];

describe('a Data API call the invocation’s budget cuts short', () => {
  const rds = mockClient(RDSDataClient);
  beforeEach(() => rds.reset());

  /**
   * Answers each command as the real client would, except that `hang` never answers until its abort
   * signal fires (then it rejects as the SDK does): Aurora got the request and we stopped listening.
   */
  function serve(options: { statement: Answer; commit?: 'hang' }) {
    const send = rds.send as unknown as {
      callsFake(fn: (command: unknown, options?: { abortSignal?: AbortSignal }) => Promise<unknown>): void;
    };
    send.callsFake((command, sendOptions) => {
      const hang = () =>
        new Promise((_resolve, reject) =>
          sendOptions?.abortSignal?.addEventListener('abort', () =>
            reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' })),
          ),
        );
      if (command instanceof BeginTransactionCommand) return Promise.resolve({ transactionId: 'tx-1' });
      if (command instanceof RollbackTransactionCommand) return Promise.resolve({});
      if (command instanceof CommitTransactionCommand)
        return options.commit === 'hang' ? hang() : Promise.resolve({});
      if (command instanceof ExecuteStatementCommand) {
        const answer = options.statement(command.input);
        return answer === 'hang' ? hang() : Promise.resolve({ formattedRecords: JSON.stringify(answer) });
      }
      return Promise.reject(new Error('unexpected command'));
    });
  }
  const database = () =>
    new DataApiDatabase(target, new RDSDataClient({}), 45_000, undefined, { budget: () => BUDGET_MS });

  it('is an outcome unknown for a write outside a transaction: no retry invited, over HTTP a 504 without Retry-After', async () => {
    // Prepare
    serve({ statement: () => 'hang' });
    const db = database();

    // Act
    const error = await db.query('INSERT INTO strata.runs (id) VALUES ($1)', ['r1']).catch((e: Error) => e);

    // Assess
    expect(error).toBeInstanceOf(DatabaseOutcomeUnknownError);
    expect((error as Error).message).toMatch(/\(25 ms\): the change may or may not have been made/);
    expect(isDatabaseUnavailable(error)).toBe(false);
    const problem = toProblem(error);
    expect(problem.status).toBe(504);
    expect(problem.detail).toMatch(/may or may not have been made.*Idempotency-Key/);
    expect(problem.headers).not.toHaveProperty('Retry-After');
  });

  it('stays "nothing happened, retry" for a read', async () => {
    serve({ statement: () => 'hang' });
    const error = await database()
      .query(`SELECT id FROM strata.runs WHERE status = 'update'`)
      .catch((e: Error) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(toProblem(error).status).toBe(503);
  });

  it('stays "nothing happened, retry" for a write inside a transaction, which is rolled back and never committed', async () => {
    // Prepare
    serve({ statement: (input) => (input.sql?.startsWith('UPDATE') ? 'hang' : []) });
    const db = database();

    // Act
    const error = await db
      .transaction(async () => {
        await db.query('SELECT pg_advisory_xact_lock($1::bigint)', [1]);
        await db.query('UPDATE strata.runs SET task = $2 WHERE id = $1', ['r1', 'claim:x']);
      })
      .catch((e: Error) => e);

    // Assess
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(rds.commandCalls(CommitTransactionCommand)).toHaveLength(0);
    expect(rds.commandCalls(RollbackTransactionCommand)).toHaveLength(1);
  });

  it('is an outcome unknown for a commit: a dispatch claim may be recorded or not', async () => {
    // Prepare: the claim's statements answer (room under the cap, the run waiting); the commit does not.
    serve({
      statement: (input) =>
        input.sql?.startsWith('SELECT EXISTS')
          ? [{ waiting: true, active: 0 }]
          : input.sql?.startsWith('UPDATE')
            ? [{ id: 'r1' }]
            : [{ '?column?': 1 }],
      commit: 'hang',
    });
    const runs = new RunRegistry(database());
    const job = { kind: 'build', product: 'copy', runId: 'r1' } as JobMessage;

    // Act
    const error = await runs.claims.claimWithinCap('r1', 'claim:x', job, 4).catch((e: Error) => e);

    // Assess
    expect(error).toBeInstanceOf(DatabaseOutcomeUnknownError);
    expect(rds.commandCalls(CommitTransactionCommand)[0]!.args[0].input).toMatchObject({
      transactionId: 'tx-1',
    });
  });

  it('leaves a webhook run keyed by its delivery: 503 "send it again", and the redelivery finds the one run', async () => {
    // Prepare: the run's INSERT reaches Aurora and commits, but its answer comes after the budget.
    const recorded: string[] = [];
    let cut = true;
    serve({
      statement: (input) => {
        const sql = input.sql ?? '';
        if (sql.startsWith('INSERT INTO strata.runs')) {
          recorded.push('run');
          return cut ? 'hang' : [];
        }
        // The run by its delivery: none before the first try, the committed one after it.
        if (sql.includes('WHERE dedupe_key')) return recorded.length > 0 ? [runRow('r1')] : [];
        // No same body lately, and room under the hook's rate limit.
        return sql.includes('count(*)') ? [{ n: 0 }] : [];
      },
    });
    const sent: JobMessage[] = [];
    const body = '{"ref":"main"}';
    const request = {
      hook: 'copy',
      body: Buffer.from(body),
      signature: `sha256=${createHmac('sha256', 's').update(body).digest('hex')}`,
      deliveryId: 'd-1',
    };
    const deps = {
      catalog: { products: new Map([['copy', {}]]) } as unknown as Catalog,
      runs: new RunRegistry(database()),
      queue: { send: async (job: JobMessage) => void sent.push(job) } as never,
      secrets: parseWebhookSecrets('{"copy":"s"}', 'test'),
    };

    // Act: the first delivery is cut short; the sender sends it again.
    const first = await onWebhook(request, deps);
    cut = false;
    const again = await onWebhook(request, deps);

    // Assess: one run, its job sent once it was known, and no second INSERT.
    expect(first).toEqual({
      statusCode: 503,
      headers: { 'retry-after': '30' },
      body: { error: 'the webhook could not be taken now; send it again shortly' },
    });
    expect(again).toEqual({ statusCode: 200, body: { runId: 'r1', status: 'queued', duplicate: true } });
    expect(recorded).toEqual(['run']);
    expect(sent).toEqual([{ kind: 'build', product: 'copy', runId: 'r1' }]);
  });
});

describe('what counts as a write', () => {
  it('takes a statement as read-only only when it reads and names no data-changing command', () => {
    const reads = [
      'SELECT 1',
      '  select id from strata.runs where updated_at > now()',
      "SELECT * FROM strata.runs WHERE status = 'update' -- delete\n",
      'WITH r AS (SELECT 1) SELECT * FROM r',
      '(SELECT to_char(now(), \'YYYY-MM-DD"T"HH24\'))',
    ];
    const writes = [
      'INSERT INTO strata.runs (id) VALUES ($1)',
      'update strata.runs SET task = NULL',
      'DELETE FROM strata.runs',
      'WITH r AS (UPDATE strata.runs SET status = $2 RETURNING *) SELECT * FROM r',
      "SELECT nextval('strata.seq')",
      'CREATE TABLE a (x int)',
      '/* SELECT */ TRUNCATE strata.runs',
    ];
    expect(reads.filter(mayWrite)).toEqual([]);
    expect(writes.filter((s) => !mayWrite(s))).toEqual([]);
  });
});
