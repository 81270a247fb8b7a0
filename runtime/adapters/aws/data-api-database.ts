import { AsyncLocalStorage } from 'node:async_hooks';
import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type Field,
  RDSDataClient,
  RollbackTransactionCommand,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import { Usage } from '../../cost/usage.ts';
import { splitStatements } from '../../db/split-statements.ts';
import { DatabaseOutcomeUnknownError, DatabaseUnavailableError } from '../../db/transient.ts';
import type { Queryable } from '../../ports/database.ts';

export interface DataApiTarget {
  readonly resourceArn: string;
  readonly secretArn: string;
  readonly database: string;
}

/** `$1` (pg style) → `:p1` (Data API style), and the value as a typed field. */
function toParameter(value: unknown, index: number): SqlParameter {
  const name = `p${index + 1}`;
  let v: Field;
  if (value === null || value === undefined) v = { isNull: true };
  else if (typeof value === 'boolean') v = { booleanValue: value };
  else if (typeof value === 'number')
    v = Number.isInteger(value) ? { longValue: value } : { doubleValue: value };
  else if (typeof value === 'bigint') v = { longValue: Number(value) };
  else if (value instanceof Date)
    return { name, value: { stringValue: value.toISOString() }, typeHint: 'TIMESTAMP' };
  else if (typeof value === 'object')
    return { name, value: { stringValue: JSON.stringify(value) }, typeHint: 'JSON' };
  else v = { stringValue: String(value) };
  return { name, value: v };
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A Data API statement answers in tens of milliseconds once Aurora is up: a retry with less left is pointless. */
const CALL_RESERVE_MS = 1000;

/**
 * What the Data API answers while Aurora wakes from 0 ACU (up to ~15 s), fails over, or sheds load: worth
 * asking again. (The SDK retries throttling a few times by itself; a burst can outlast that.)
 */
const RETRYABLE = new Set([
  'DatabaseResumingException',
  'DatabaseUnavailableException',
  'ServiceUnavailableError',
  'ThrottlingException',
  'TooManyRequestsException',
]);

/**
 * Whether a statement may change something. Read-only means a query that starts as one and names no
 * data-changing command anywhere (a `WITH` may hide an `UPDATE`); everything else counts as a write, so a
 * doubt makes an outcome "unknown" rather than "retry".
 */
export function mayWrite(sql: string): boolean {
  const text = sql
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''");
  if (!/^\s*\(?\s*(SELECT|WITH|SHOW|VALUES|TABLE|EXPLAIN)\b/i.test(text)) return true;
  return /\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|COPY|CALL|DO|CREATE|ALTER|DROP|GRANT|REVOKE|REFRESH|NEXTVAL|SETVAL|ANALYZE)\b/i.test(
    text,
  );
}

export interface DataApiWaits {
  /**
   * The milliseconds the current invocation may still spend waiting (a Lambda's remaining time less a
   * margin: `WaitBudget.left`). No retry waits past it, and no call runs past it. @default no limit
   */
  readonly budget?: () => number;
  /** The clock the resume timeout is measured on (tests pass a fake one). @default Date.now */
  readonly now?: () => number;
}

/**
 * The database for Lambdas, through the RDS Data API: no connection to hold, one statement per call. Calls
 * the database cannot take yet (resuming, unavailable, throttled) are retried with backoff for up to
 * `resumeTimeoutMs`, and never past the invocation's budget; then the last error is thrown, and callers
 * answer "try again" (503, or a thrown error their event source retries) rather than fail. A read the
 * budget cuts short is a DatabaseUnavailableError, so it is retried the same way; so is any statement of a
 * transaction that is then rolled back. A write the budget cuts short outside a transaction, and a cut
 * commit, may have happened: they are a DatabaseOutcomeUnknownError (see `mayWrite`).
 */
export class DataApiDatabase implements Queryable {
  private readonly als = new AsyncLocalStorage<{ transactionId: string }>();

  constructor(
    private readonly target: DataApiTarget,
    private readonly client: RDSDataClient = new RDSDataClient({}),
    private readonly resumeTimeoutMs = 45_000,
    /** How a backoff waits (tests count the waits instead of sleeping). */
    private readonly sleep: (ms: number) => Promise<void> = realSleep,
    private readonly waits: DataApiWaits = {},
  ) {}

  private budgetLeft(): number {
    return this.waits.budget ? Math.max(0, this.waits.budget()) : Number.POSITIVE_INFINITY;
  }

  /** `commits`: whether the call, once sent, may have changed something that stays (a write or a commit). */
  private async send<T>(command: (abortSignal?: AbortSignal) => Promise<T>, commits = false): Promise<T> {
    const now = this.waits.now ?? Date.now;
    let waited = 0;
    const deadline = now() + this.resumeTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const budget = this.budgetLeft();
      if (budget <= 0)
        throw new DatabaseUnavailableError(
          'the database was not asked: this invocation has no time left to wait for an answer',
        );
      Usage.dataApiCall();
      // A call is cut short where the invocation's budget ends, so the function answers before it times out.
      const cut = Number.isFinite(budget) ? new AbortController() : undefined;
      const timer = cut ? setTimeout(() => cut.abort(), budget) : undefined;
      try {
        return await command(cut?.signal);
      } catch (e) {
        if (cut?.signal.aborted) {
          // The request was sent: Aurora may have run it to the end after we stopped listening.
          if (commits)
            throw new DatabaseOutcomeUnknownError(
              `the database did not answer within this invocation's time (${budget} ms): the change may or may not have been made`,
              e,
            );
          throw new DatabaseUnavailableError(
            `the database did not answer within this invocation's time (${budget} ms)`,
            e,
          );
        }
        const name = (e as { name?: string }).name ?? '';
        // Never waits past the resume timeout, by the clock or by the waits themselves, nor past the
        // invocation's budget: a caller with a limit (API Gateway's 29 s, a 30 s function) gets its answer in it.
        // After a wait, the retry itself needs time inside the budget: CALL_RESERVE_MS of it.
        const left = Math.min(
          deadline - now(),
          this.resumeTimeoutMs - waited,
          this.budgetLeft() - CALL_RESERVE_MS,
        );
        if (!RETRYABLE.has(name) || left <= 0) throw e;
        const wait = Math.min(5000, 500 * 2 ** attempt, left);
        await this.sleep(wait);
        waited += wait;
      } finally {
        if (timer) clearTimeout(timer);
      }
    }
  }

  async query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    const transactionId = this.als.getStore()?.transactionId;
    // Inside a transaction nothing stays until the commit: a statement cut short there is rolled back.
    const commits = !transactionId && mayWrite(sql);
    const out = await this.send(
      (abortSignal) =>
        this.client.send(
          new ExecuteStatementCommand({
            resourceArn: this.target.resourceArn,
            secretArn: this.target.secretArn,
            database: this.target.database,
            sql: sql.replace(/\$(\d+)/g, ':p$1'),
            parameters: params.map(toParameter),
            formatRecordsAs: 'JSON',
            transactionId,
          }),
          { abortSignal },
        ),
      commits,
    );
    return out.formattedRecords ? (JSON.parse(out.formattedRecords) as R[]) : [];
  }

  async exec(sql: string): Promise<void> {
    for (const statement of splitStatements(sql)) await this.query(statement);
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.als.getStore()) return fn();
    const base = { resourceArn: this.target.resourceArn, secretArn: this.target.secretArn };
    const { transactionId } = await this.send((abortSignal) =>
      this.client.send(new BeginTransactionCommand({ ...base, database: this.target.database }), {
        abortSignal,
      }),
    );
    if (!transactionId) throw new Error('the Data API returned no transaction id');
    try {
      const result = await this.als.run({ transactionId }, fn);
      await this.send(
        (abortSignal) =>
          this.client.send(new CommitTransactionCommand({ ...base, transactionId }), { abortSignal }),
        true,
      );
      return result;
    } catch (e) {
      try {
        await this.client.send(new RollbackTransactionCommand({ ...base, transactionId }));
      } catch {
        // The transaction times out on its own; the error worth reporting is the first one.
      }
      throw e;
    }
  }
}
