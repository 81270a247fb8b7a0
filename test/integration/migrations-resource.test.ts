import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MigrationTarget } from '../../runtime/db/migrate.ts';
import { isMigrationsComplete, onMigrationsEvent } from '../../runtime/db/migrations-resource.ts';
import type { Database } from '../../runtime/ports/database.ts';
import { engines } from '../helpers/engines.ts';

// CDK's own Provider framework runtime, the code its framework functions run: run here in process, with its
// two ways out (invoking our handler, answering CloudFormation) replaced by calls we can watch.
const require = createRequire(import.meta.url);
const RUNTIME = join(
  dirname(require.resolve('aws-cdk-lib')),
  'custom-resources',
  'lib',
  'provider-framework',
  'runtime',
);
const framework = require(`${RUNTIME}/framework.js`) as {
  onEvent(event: unknown): Promise<void>;
  isComplete(event: unknown): Promise<void>;
};
const outbound = require(`${RUNTIME}/outbound.js`) as {
  invokeFunction: (req: { FunctionName: string; Payload: string }) => Promise<unknown>;
  httpRequest: (options: unknown, body: string) => Promise<void>;
  startExecution: (req: unknown) => Promise<unknown>;
};
const retryClass = (require(`${RUNTIME}/cfn-response.js`) as { Retry: new () => Error }).Retry;

function event(
  type: 'Create' | 'Update' | 'Delete',
  migrations: { name: string; sql: string }[],
): CloudFormationCustomResourceEvent {
  return {
    RequestType: type,
    ServiceToken: 'arn:aws:lambda:eu-west-2:222222222222:function:framework-onEvent',
    ResponseURL: 'https://cloudformation-custom-resource-response-euwest2.s3.amazonaws.com/response',
    StackId: 'arn:aws:cloudformation:eu-west-2:222222222222:stack/strata-child-a/1',
    RequestId: 'request-1',
    LogicalResourceId: 'DatabaseMigrations',
    ResourceType: 'Custom::StrataMigrations',
    ResourceProperties: { ServiceToken: 'x', hash: 'h', migrations } as never,
    ...(type === 'Create' ? {} : { PhysicalResourceId: 'strata-migrations', OldResourceProperties: {} }),
  } as CloudFormationCustomResourceEvent;
}

const GOOD = { name: '901_notes.sql', sql: 'CREATE TABLE public.notes_901 (id integer PRIMARY KEY);' };
const BEFORE_BAD = { name: '904_more.sql', sql: 'CREATE TABLE public.notes_904 (id integer PRIMARY KEY);' };
const BAD = { name: '905_broken.sql', sql: 'ALTER TABLE public.no_such_table ADD COLUMN x integer;' };

describe.each(engines())('Custom::StrataMigrations on the Provider framework, on $name', (engine) => {
  let db: Database;
  let responses: {
    Status: string;
    Reason: string;
    PhysicalResourceId: string;
    Data?: Record<string, unknown>;
  }[];
  const saved = { ...outbound };

  beforeAll(async () => {
    db = await engine.open();
  });
  afterAll(async () => db?.close());

  beforeEach(async () => {
    responses = [];
    // The framework logs every step to stdout.
    vi.spyOn(console, 'log').mockImplementation(() => {});
    // The framework's user functions, as Lambda would return them: a payload, or a FunctionError.
    outbound.invokeFunction = async (req) => {
      const payload = JSON.parse(req.Payload) as CloudFormationCustomResourceEvent;
      try {
        const out = req.FunctionName.endsWith('onEvent')
          ? onMigrationsEvent(payload)
          : await isMigrationsComplete(payload, db as MigrationTarget);
        return { StatusCode: 200, Payload: Buffer.from(JSON.stringify(out)) };
      } catch (e) {
        const error = { errorType: 'Error', errorMessage: (e as Error).message, trace: [] };
        return { StatusCode: 200, FunctionError: 'Unhandled', Payload: Buffer.from(JSON.stringify(error)) };
      }
    };
    outbound.httpRequest = async (_options, body) => {
      responses.push(JSON.parse(body));
    };
    outbound.startExecution = async () => ({});
    process.env.USER_ON_EVENT_FUNCTION_ARN = 'arn:aws:lambda:eu-west-2:222222222222:function:onEvent';
    process.env.USER_IS_COMPLETE_FUNCTION_ARN = 'arn:aws:lambda:eu-west-2:222222222222:function:isComplete';
    process.env.WAITER_STATE_MACHINE_ARN = 'arn:aws:states:eu-west-2:222222222222:stateMachine:waiter';
  });
  afterEach(() => {
    Object.assign(outbound, saved);
    vi.restoreAllMocks();
  });

  /** onEvent, then the waiter's isComplete with what onEvent returned, as the state machine passes it. */
  const deploy = async (e: CloudFormationCustomResourceEvent) => {
    await framework.onEvent(e);
    await framework.isComplete({ ...e, PhysicalResourceId: 'strata-migrations' });
  };

  it('reports SUCCESS with the migrations it applied', async () => {
    // Act
    await deploy(event('Create', [GOOD]));

    // Assess
    expect(responses).toEqual([
      expect.objectContaining({
        Status: 'SUCCESS',
        PhysicalResourceId: 'strata-migrations',
        Data: { applied: '901_notes.sql' },
      }),
    ]);
    expect(await db.query('SELECT count(*)::int AS n FROM public.notes_901')).toEqual([{ n: 0 }]);
  });

  it('reports FAILED to CloudFormation, with the error, when a migration fails, and applies nothing of it', async () => {
    // Act
    await deploy(event('Update', [BEFORE_BAD, BAD]));

    // Assess: one answer, FAILED, naming what the database said.
    expect(responses).toHaveLength(1);
    expect(responses[0]).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'strata-migrations' });
    expect(responses[0]!.Reason).toMatch(/no_such_table/);
    const applied = await db.query<{ name: string }>(
      "SELECT name FROM public.strata_migrations WHERE name IN ('904_more.sql', '905_broken.sql')",
    );
    expect(applied).toEqual([{ name: '904_more.sql' }]);
  });

  it('asks again (no answer yet) while the cluster resumes, and leaves the data alone on Delete', async () => {
    // Prepare: a Data API that answers "resuming".
    const resuming: MigrationTarget = {
      query: async () => {
        throw Object.assign(new Error('resuming'), { name: 'DatabaseResumingException' });
      },
      exec: async () => {},
      transaction: async (fn) => fn(),
    };
    outbound.invokeFunction = async (req) => ({
      StatusCode: 200,
      Payload: Buffer.from(JSON.stringify(await isMigrationsComplete(JSON.parse(req.Payload), resuming))),
    });

    // Act + assess: the framework throws Retry, which the waiter retries until its total timeout.
    await expect(
      framework.isComplete({ ...event('Create', [GOOD]), PhysicalResourceId: 'x' }),
    ).rejects.toBeInstanceOf(retryClass);
    expect(responses).toEqual([]);
    expect(await isMigrationsComplete(event('Delete', [BAD]), resuming)).toEqual({ IsComplete: true });
  });

  it('refuses a request without its migrations before doing anything', () => {
    expect(() =>
      onMigrationsEvent({ ...event('Create', []), ResourceProperties: { ServiceToken: 'x' } }),
    ).toThrow(/needs `migrations`/);
  });
});
