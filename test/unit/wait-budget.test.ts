import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { waitBudget } from '../../lambdas/shared/budget.ts';
import { DataApiDatabase } from '../../runtime/adapters/aws/data-api-database.ts';
import { WAIT_MARGIN_MS, WaitBudget } from '../../runtime/aws/wait-budget.ts';
import { DatabaseUnavailableError } from '../../runtime/db/transient.ts';
import { toProblem } from '../../runtime/web/problem.ts';

const target = {
  resourceArn: 'arn:aws:rds:eu-west-2:222222222222:cluster:strata',
  secretArn: 'arn:secret',
  database: 'strata',
};
const resuming = () => Object.assign(new Error('resuming'), { name: 'DatabaseResumingException' });

/** A clock that moves only when a wait moves it, and a sleep that moves it: no test here sleeps. */
function fakeTime() {
  const clock = { t: 1_000_000, waits: [] as number[] };
  return {
    clock,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.waits.push(ms);
      clock.t += ms;
    },
  };
}

/** What Lambda hands a handler: only the remaining time matters here. */
const lambdaContext = (remainingMs: number) =>
  ({ getRemainingTimeInMillis: () => remainingMs }) as unknown as Context;

describe('the wait budget of an invocation', () => {
  const rds = mockClient(RDSDataClient);
  beforeEach(() => rds.reset());

  it('starts from the remaining time less the margin, runs down with the clock, and is lifted at the end', () => {
    // Prepare
    const { clock, now } = fakeTime();
    const budget = new WaitBudget(now);
    expect(budget.left()).toBe(Number.POSITIVE_INFINITY);

    // Act
    budget.start(30_000, WAIT_MARGIN_MS.event);
    const atStart = budget.left();
    clock.t += 10_000;
    const later = budget.left();
    clock.t += 60_000;
    const spent = budget.left();
    budget.end();

    // Assess
    expect([atStart, later, spent]).toEqual([27_000, 17_000, 0]);
    expect(budget.left()).toBe(Number.POSITIVE_INFINITY);
    expect(() => budget.start(Number.NaN, 0)).toThrow(/remainingMs/);
  });

  it('never lets the 45 s resume wait outlive a 30 s function: the waits stop inside its budget', async () => {
    // Prepare: Aurora stays paused; a 30 s function whose invocation has just begun.
    const { clock, now, sleep } = fakeTime();
    const budget = new WaitBudget(now);
    budget.start(30_000, WAIT_MARGIN_MS.event);
    const started = clock.t;
    rds.on(ExecuteStatementCommand).rejects(resuming());
    const db = new DataApiDatabase(target, new RDSDataClient({}), 45_000, sleep, {
      budget: () => budget.left(),
      now,
    });

    // Act
    const error = await db.query('SELECT 1').catch((e: Error) => e);

    // Assess: the caller gets the retryable error, with time left to answer before the function ends.
    expect((error as Error).name).toBe('DatabaseResumingException');
    expect(clock.t - started).toBeLessThanOrEqual(30_000 - WAIT_MARGIN_MS.event);
    // Backoff 0.5, 1, 2, 4, 5, 5, 5 s, then 3.5 s: a last try with a second left, none after it.
    expect(clock.waits).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000, 3500]);
    expect(toProblem(error)).toMatchObject({ status: 503, headers: { 'Retry-After': '15' } });
  });

  it('keeps the shorter of the resume timeout and the budget', async () => {
    const { clock, now, sleep } = fakeTime();
    rds.on(ExecuteStatementCommand).rejects(resuming());
    const db = new DataApiDatabase(target, new RDSDataClient({}), 20_000, sleep, {
      budget: () => 60_000,
      now,
    });
    await expect(db.query('SELECT 1')).rejects.toThrow('resuming');
    expect(clock.waits.reduce((a, b) => a + b, 0)).toBe(20_000);
  });

  it('asks nothing once the budget is spent, and says so as a retryable error (503 over HTTP)', async () => {
    // Prepare
    rds.on(ExecuteStatementCommand).resolves({ formattedRecords: '[]' });
    const db = new DataApiDatabase(target, new RDSDataClient({}), 45_000, undefined, { budget: () => 0 });

    // Act
    const error = await db.query('SELECT 1').catch((e: Error) => e);

    // Assess
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(0);
    expect(toProblem(error).status).toBe(503);
  });

  it('cuts a call short where the budget ends, as a retryable error', async () => {
    // Prepare: a Data API call that answers only when it is aborted.
    let signal: AbortSignal | undefined;
    const hanging = {
      send: (_c: unknown, options?: { abortSignal?: AbortSignal }) => {
        signal = options?.abortSignal;
        return new Promise((_resolve, reject) =>
          signal?.addEventListener('abort', () =>
            reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
          ),
        );
      },
    } as unknown as RDSDataClient;
    const db = new DataApiDatabase(target, hanging, 45_000, undefined, { budget: () => 25 });

    // Act
    const error = await db.query('SELECT pg_sleep(60)').catch((e: Error) => e);

    // Assess
    expect(signal?.aborted).toBe(true);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect((error as Error).message).toMatch(/did not answer within this invocation's time \(25 ms\)/);
  });

  it('is set by the handler middleware from the Lambda context, and lifted after the invocation', async () => {
    // Prepare
    const { now } = fakeTime();
    const budget = new WaitBudget(now);
    const seen: number[] = [];
    const handler = middy(async () => {
      seen.push(budget.left());
      return 'ok';
    }).use(waitBudget(WAIT_MARGIN_MS.http, budget));
    const failing = middy(async () => {
      seen.push(budget.left());
      throw new Error('boom');
    }).use(waitBudget(WAIT_MARGIN_MS.event, budget));

    // Act
    await handler({}, lambdaContext(29_000));
    const afterOk = budget.left();
    await expect(failing({}, lambdaContext(30_000))).rejects.toThrow('boom');

    // Assess
    expect(seen).toEqual([24_000, 27_000]);
    expect(afterOk).toBe(Number.POSITIVE_INFINITY);
    expect(budget.left()).toBe(Number.POSITIVE_INFINITY);
  });
});
