// Deploy day, rehearsed: the functions' bundles exactly as `cdk synth` ships them, run with exactly their
// template's environment against AWS-protocol endpoints on loopback, every call decided against the role
// the template gives that function. A call the role does not grant fails here, naming the function, the call
// and the missing statement, before any account sees it.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addPartner } from '../../runtime/partners/admin.ts';
import { emptyDirectory } from '../../runtime/partners/credentials.ts';
import type { Call } from './endpoint.ts';
import { openStage, resolved, type Stage, TASK_KEY } from './stage.ts';
import type { Statement } from './template.ts';

const CSV =
  'geoname_id,name,country,feature_code,admin_code,population,lon,lat\n1,Aberdeen,GB,PPLA2,SCT,200000,-2.1,57.15\n';

/** The logical id of the one resource of a type. */
function only(stage: Stage, type: string): string {
  const ids = Object.keys(stage.template.Resources).filter((k) => stage.template.Resources[k]!.Type === type);
  if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.length}`);
  return ids[0]!;
}

function bucketNamed(stage: Stage, fragment: string): string {
  const id = Object.keys(stage.template.Resources).find(
    (k) => stage.template.Resources[k]!.Type === 'AWS::S3::Bucket' && k.includes(fragment),
  )!;
  return stage.resolver.ref(id);
}

function objectCreated(stage: Stage, key: string, size: number, etag: string) {
  const bucket = bucketNamed(stage, 'Ingress');
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '222222222222',
    time: new Date().toISOString(),
    region: 'eu-west-2',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: {
        key,
        size,
        etag,
        'version-id': 'IYV3p45BT0ac8hjHg1houSdS1a.Mro8e',
        sequencer: '00617F08299329D189',
      },
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: '222222222222',
      'source-ip-address': '1.2.3.4',
      reason: 'PutObject',
    },
  };
}

/** The SQS event Lambda's event source mapping delivers for these messages of a queue. */
function sqsEvent(stage: Stage, queueUrl: string, bodies: string[]) {
  return {
    Records: bodies.map((body) => ({
      messageId: crypto.randomUUID(),
      receiptHandle: crypto.randomUUID(),
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(Date.now()),
        SenderId: 'AIDAIENQZJOLO23YVJ4VO',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: createHash('md5').update(body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: stage.endpoint.queueArn(queueUrl),
      awsRegion: 'eu-west-2',
    })),
  };
}

function apiEvent(path: string, headers: Record<string, string>) {
  const fixture = JSON.parse(
    readFileSync(new URL('../events/apigateway/partner-get-products.json', import.meta.url), 'utf8'),
  );
  const all = { ...fixture.headers, ...headers };
  return {
    ...fixture,
    path,
    pathParameters: { proxy: path.slice(1) },
    headers: all,
    multiValueHeaders: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, [v]])),
    requestContext: { ...fixture.requestContext, path: `/v1${path}`, requestTimeEpoch: Date.now() },
  };
}

/** The role's statements with one action taken out of every statement that grants it, as if never granted. */
function withoutGrant(statements: Statement[], action: string): Statement[] {
  return statements.flatMap((s) => {
    if (s.Effect !== 'Allow' || s.Action === undefined) return [s];
    const actions = (Array.isArray(s.Action) ? s.Action : [s.Action]).filter((a) => a !== action);
    return actions.length ? [{ ...s, Action: actions }] : [];
  });
}

describe('deploy day, rehearsed (child-a)', () => {
  let stage: Stage;
  let jobsQueue: string;
  beforeAll(async () => {
    stage = await openStage('child-a');
    jobsQueue = stage.functions.get('TriggersDispatcher')!.environment.STRATA_JOBS_QUEUE_URL!;
    // Migrations first, as the deployment applies them: the custom resource's isComplete, through the Data API.
    const migrations = resolved(stage, only(stage, 'Custom::StrataMigrations'));
    const out = await stage.invoke('DatabaseMigrationsApply', [
      {
        RequestType: 'Create',
        ResourceProperties: migrations,
        ServiceToken: 'arn:aws:lambda:eu-west-2:222222222222:function:provider',
        ResponseURL: 'https://cloudformation-custom-resource-response-euwest2.s3.amazonaws.com/x',
        StackId: 'arn:aws:cloudformation:eu-west-2:222222222222:stack/strata-child-a/1',
        RequestId: crypto.randomUUID(),
        LogicalResourceId: 'DatabaseMigrations',
        ResourceType: 'Custom::StrataMigrations',
      },
    ]);
    expect(out.coldStart).toBeUndefined();
    expect(out.results[0]).toMatchObject({ ok: true, value: { IsComplete: true } });
    // A synth with real bundling (14 esbuild runs) and every migration through the Data API: about 25 s of
    // CPU, far longer on a shared machine.
  }, 600_000);
  afterAll(async () => {
    await stage?.close();
  });

  /** Runs a function and fails with every denial it met. */
  async function rehearse(name: string, events: unknown[]) {
    const before = stage.endpoint.calls.length;
    const out = await stage.invoke(name, events);
    expect(out.coldStart, `${name} failed its cold start`).toBeUndefined();
    return { out, calls: stage.endpoint.calls.slice(before) };
  }

  describe('main and error paths', () => {
    it('ingress: an upload becomes a queued run and a job; an object for no dataset is refused', async () => {
      // Prepare
      const key = 'datasets/world_places/places-rehearsal.csv';
      const put = await stage.s3.send(
        new PutObjectCommand({ Bucket: bucketNamed(stage, 'Ingress'), Key: key, Body: CSV }),
      );

      // Act
      const { out } = await rehearse('TriggersIngressObjectCreated', [
        objectCreated(stage, key, CSV.length, put.ETag!.replaceAll('"', '')),
        objectCreated(stage, 'datasets/no_such_dataset/x.csv', 10, 'abc'),
      ]);

      // Assess
      expect(out.results[0]).toMatchObject({
        ok: true,
        value: { status: 'queued', dataset: 'world_places' },
      });
      expect(out.results[1]).toMatchObject({ ok: true, value: { status: 'rejected' } });
      expect(stage.endpoint.queues.get(jobsQueue)).toHaveLength(1);
      expect(stage.endpoint.denials()).toEqual([]);
    });

    it('dispatcher: a job becomes a tagged Fargate task of its size; a body that is no job is left for the dead-letter queue', async () => {
      // Prepare: the job the ingress function sent.
      const bodies = stage.endpoint.queues.get(jobsQueue)!.map((m) => m.Body);

      // Act
      const { out, calls } = await rehearse('TriggersDispatcher', [
        sqsEvent(stage, jobsQueue, [...bodies, 'not json']),
      ]);

      // Assess
      const bad = (out.results[0] as { value: { batchItemFailures: { itemIdentifier: string }[] } }).value;
      expect(bad.batchItemFailures, out.logs).toHaveLength(1);
      const runTask = calls.find((c) => c.operation === 'RunTask')!;
      expect(runTask.decisions.map((d) => d.requirement.action).sort()).toEqual([
        'ecs:RunTask',
        'ecs:TagResource',
        'iam:PassRole',
        'iam:PassRole',
      ]);
      expect(stage.endpoint.tasks.at(-1)!.tags).toContainEqual({
        key: 'strata:run',
        value: JSON.parse(bodies[0]!).runId,
      });
      expect(stage.endpoint.denials()).toEqual([]);
    });

    it.runIf(process.env.DATABASE_URL)(
      'task: the job the dispatcher started archives the upload, loads it and succeeds',
      async () => {
        // Prepare: the task the dispatcher's RunTask started.
        const task = stage.endpoint.tasks.at(-1)!;
        const before = stage.endpoint.calls.length;

        // Act
        const { exitCode, logs } = await stage.runTask(task);

        // Assess
        expect(exitCode, logs).toBe(0);
        const calls = stage.endpoint.calls.slice(before);
        expect(calls.filter((c) => c.principal === 'Task').map((c) => `${c.service}:${c.operation}`)).toEqual(
          expect.arrayContaining(['secretsmanager:GetSecretValue', 's3:GetObject', 's3:PutObject']),
        );
        expect(stage.endpoint.denials()).toEqual([]);
      },
    );

    it.runIf(process.env.DATABASE_URL)(
      'reconciler: the stopped task is reconciled with its run; the 15-minute sweep finds nothing stale',
      async () => {
        // Prepare: ECS's stop event for the task that ran, as EventBridge delivers it.
        const task = stage.endpoint.tasks.find((t) => t.lastStatus === 'STOPPED' && t.exitCode === 0)!;
        const stopped = {
          ...JSON.parse(
            readFileSync(new URL('../events/eventbridge/ecs-task-stopped-oom.json', import.meta.url), 'utf8'),
          ),
          detail: {
            clusterArn: task.cluster,
            taskArn: task.taskArn,
            lastStatus: 'STOPPED',
            desiredStatus: 'STOPPED',
            stopCode: 'EssentialContainerExited',
            stoppedReason: task.stoppedReason,
            startedBy: `strata-${task.tags.find((t) => t.key === 'strata:run')!.value}`,
            containers: [{ name: 'job', exitCode: 0 }],
          },
        };
        const sweep = { ...stopped, 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} };

        // Act
        const { out } = await rehearse('TriggersReconciler', [stopped, sweep]);

        // Assess
        expect(
          out.results.every((r) => r.ok),
          out.logs,
        ).toBe(true);
        expect(stage.endpoint.denials()).toEqual([]);
      },
    );

    it('dead-letter: the body that was no job is counted as unreadable, not lost', async () => {
      const { out } = await rehearse('TriggersDeadLetter', [sqsEvent(stage, jobsQueue, ['not json'])]);

      expect(out.results[0], out.logs).toMatchObject({
        ok: true,
        value: { unreadable: [expect.any(String)] },
      });
      expect(stage.endpoint.denials()).toEqual([]);
    });

    it('partner API: a partner with a key lists products, a wrong key is refused', async () => {
      // Prepare: one partner in the directory secret, as `strata partners add` writes it.
      const { doc, issued } = addPartner(emptyDirectory(), 'rehearsal', {
        scopes: ['read:products/*', 'read:datasets/*'],
      });
      const secretArn = stage.functions.get('PartnerApiHandler')!.environment.STRATA_PARTNERS_SECRET_ARN!;
      stage.endpoint.secrets.get(secretArn)!.value = JSON.stringify(doc);

      // Act
      const { out } = await rehearse('PartnerApiHandler', [
        apiEvent('/products', { 'X-API-Key': issued.apiKey!.key }),
        apiEvent('/products', { 'X-API-Key': 'wrong' }),
      ]);

      // Assess
      expect(
        out.results.map((r) => (r as { value: { statusCode: number } }).value?.statusCode),
        out.logs,
      ).toEqual([200, 401]);
      expect(
        stage.endpoint.calls.some((c) => c.principal === 'PartnerApiHandler' && c.service === 'dynamodb'),
      ).toBe(true);
      expect(stage.endpoint.denials()).toEqual([]);
    });
  });

  describe('a grant taken out of the synthesized policy fails the rehearsal, naming the call', () => {
    async function denialsWithout(fn: string, action: string, events: unknown[]) {
      const f = stage.functions.get(fn)!;
      const principal = stage.endpoint.principals.get(f.accessKeyId)!;
      const before = stage.endpoint.calls.length;
      stage.endpoint.principals.set(f.accessKeyId, {
        ...principal,
        statements: withoutGrant(principal.statements, action),
      });
      try {
        const out = await stage.invoke(fn, events);
        expect(out.coldStart).toBeUndefined();
        return stage.endpoint.calls.slice(before);
      } finally {
        stage.endpoint.principals.set(f.accessKeyId, principal);
        // The denials were the point: keep them out of the other tests' record.
        stage.endpoint.calls.splice(before);
      }
    }

    /** A fresh upload, queued by the ingress function: the job the dispatcher is then given. */
    async function freshJob(): Promise<string> {
      const key = `datasets/world_places/places-${crypto.randomUUID()}.csv`;
      // New bytes: the same bytes twice make no second dataset version, and so no write.
      const csv = `${CSV}2,Rehearsal ${key},GB,PPL,ENG,1000,-1.5,52.5\n`;
      const put = await stage.s3.send(
        new PutObjectCommand({ Bucket: bucketNamed(stage, 'Ingress'), Key: key, Body: csv }),
      );
      stage.endpoint.queues.set(jobsQueue, []);
      const out = await stage.invoke('TriggersIngressObjectCreated', [
        objectCreated(stage, key, csv.length, put.ETag!.replaceAll('"', '')),
      ]);
      expect(out.results[0]).toMatchObject({ ok: true, value: { status: 'queued' } });
      return stage.endpoint.queues.get(jobsQueue)![0]!.Body;
    }

    it.each([
      [
        'ecs:TagResource',
        'TriggersDispatcher: ecs:RunTask needs ecs:TagResource on arn:aws:ecs:eu-west-2:222222222222:task/',
      ],
      [
        'ecs:RunTask',
        'TriggersDispatcher: ecs:RunTask needs ecs:RunTask on arn:aws:ecs:eu-west-2:222222222222:task-definition/',
      ],
    ])('the dispatcher without %s', async (action, message) => {
      // Prepare
      const job = await freshJob();

      // Act
      const calls = await denialsWithout('TriggersDispatcher', action, [sqsEvent(stage, jobsQueue, [job])]);

      // Assess
      const denials = stage.endpoint.denials(calls);
      expect(denials).toHaveLength(1);
      expect(denials[0]).toContain(message);
      expect(denials[0]).toContain(`missing: { "Effect": "Allow", "Action": "${action}"`);
    });

    it.runIf(process.env.DATABASE_URL)('the task without s3:PutObject', async () => {
      // Prepare: a job, started by the dispatcher with its full grants.
      const job = await freshJob();
      const out = await stage.invoke('TriggersDispatcher', [sqsEvent(stage, jobsQueue, [job])]);
      expect(out.results[0], out.logs).toMatchObject({ ok: true, value: { batchItemFailures: [] } });
      const task = stage.endpoint.tasks.at(-1)!;
      const principal = stage.endpoint.principals.get(TASK_KEY)!;
      const before = stage.endpoint.calls.length;
      stage.endpoint.principals.set(TASK_KEY, {
        ...principal,
        statements: withoutGrant(principal.statements, 's3:PutObject'),
      });

      // Act
      let exitCode: number;
      let calls: Call[];
      try {
        ({ exitCode } = await stage.runTask(task));
        calls = stage.endpoint.calls.slice(before);
      } finally {
        stage.endpoint.principals.set(TASK_KEY, principal);
        stage.endpoint.calls.splice(before);
      }

      // Assess: the run fails, and the first write it tried is named.
      expect(exitCode).toBe(1);
      const denials = stage.endpoint.denials(calls);
      expect(denials[0]).toMatch(
        new RegExp(
          `^Task: s3:PutObject needs s3:PutObject on arn:aws:s3:::${bucketNamed(stage, 'Archive')}/datasets/world_places/`,
        ),
      );
    });

    it('the partner API without dynamodb:UpdateItem', async () => {
      const secretArn = stage.functions.get('PartnerApiHandler')!.environment.STRATA_PARTNERS_SECRET_ARN!;
      const { doc, issued } = addPartner(emptyDirectory(), 'rehearsal', {
        scopes: ['read:products/*', 'read:datasets/*'],
      });
      stage.endpoint.secrets.get(secretArn)!.value = JSON.stringify(doc);

      const calls = await denialsWithout('PartnerApiHandler', 'dynamodb:UpdateItem', [
        apiEvent('/products', { 'X-API-Key': issued.apiKey!.key }),
      ]);

      const denials = stage.endpoint.denials(calls);
      expect(denials).toHaveLength(1);
      expect(denials[0]).toMatch(
        /^PartnerApiHandler: dynamodb:UpdateItem needs dynamodb:UpdateItem on arn:aws:dynamodb:eu-west-2:222222222222:table\//,
      );
    });
  });

  describe('the template against the code', () => {
    /**
     * Variables the code reads that a deployment may leave unset, each with why: anything else a bundle reads
     * must be in its template's environment.
     */
    const OPTIONAL: Record<string, string> = {
      STRATA_CATALOG: 'a catalog directory in place of the deployed pack, for tests and the command line',
      STRATA_PUBLIC_BASE_URL: 'the partner API’s public address, when it is not API Gateway’s own',
      STRATA_JOB: 'the job, given to each task by the dispatcher’s container override',
      STRATA_COMMAND:
        'what a task started by `strata db rebuild --aws` does instead of a job, by its container override',
      STRATA_HOME: 'the command line’s home directory; tasks keep the default',
      STRATA_DB_CA_BUNDLE: 'the rehearsal’s own database certificate; tasks use the RDS bundle in the image',
      STRATA_FEDERATION_KEY_SECRET_ARN: 'set only when the child reports to a core',
    };

    it('sets every environment variable each rehearsed bundle read', () => {
      const rehearsed = [
        'DatabaseMigrationsApply',
        'TriggersIngressObjectCreated',
        'TriggersDispatcher',
        'TriggersDeadLetter',
        'PartnerApiHandler',
        ...(process.env.DATABASE_URL ? ['Task', 'TriggersReconciler'] : []),
      ];
      expect([...stage.reads.keys()].sort()).toEqual(rehearsed.sort());
      const missing = [...stage.reads].flatMap(([fn, { read, environment }]) =>
        [...read]
          .filter((v) => !(v in environment) && !(v in OPTIONAL))
          .map((v) => `${fn} reads ${v}, which its template does not set`),
      );
      expect(missing).toEqual([]);
    });

    /** Each SQS event source whose queue's visibility timeout is under six times its function's timeout (AWS's advice). */
    function shortVisibility(): string[] {
      const out: string[] = [];
      for (const [id, r] of Object.entries(stage.template.Resources)) {
        if (r.Type !== 'AWS::Lambda::EventSourceMapping') continue;
        const source = (r.Properties!.EventSourceArn as { 'Fn::GetAtt'?: string[] })['Fn::GetAtt']?.[0];
        const queue = source ? stage.template.Resources[source] : undefined;
        if (queue?.Type !== 'AWS::SQS::Queue') continue;
        const fn = stage.template.Resources[(r.Properties!.FunctionName as { Ref: string }).Ref]!;
        const visibility = Number(queue.Properties!.VisibilityTimeout ?? 30);
        const timeout = Number(fn.Properties!.Timeout ?? 3);
        if (visibility < 6 * timeout)
          out.push(
            `${id}: queue ${source} hides a message for ${visibility} s, under 6 × the function's ${timeout} s`,
          );
      }
      return out;
    }

    /** Targets of EventBridge rules with no dead-letter queue: an event that fails every retry is then lost. */
    function targetsWithoutDeadLetters(): string[] {
      return Object.entries(stage.template.Resources)
        .filter(([, r]) => r.Type === 'AWS::Events::Rule')
        .flatMap(([id, r]) =>
          ((r.Properties!.Targets as { Id: string; DeadLetterConfig?: { Arn?: unknown } }[]) ?? [])
            .filter((t) => !t.DeadLetterConfig?.Arn)
            .map((t) => `${id} target ${t.Id} has no dead-letter queue`),
        );
    }

    /** Bundles that load an `@aws-sdk/*` package from outside themselves (the Lambda runtime's copy, not ours). */
    function externalSdk(): string[] {
      return [...stage.functions.values()].flatMap((f) => {
        const code = readFileSync(f.bundle, 'utf8');
        // Not `[require("@aws-sdk/signature-v4-crt");]`: the SDK's own message telling users how to load the CRT.
        const found = new Set(code.match(/(?<!\[)(?:from|import\(|require\()\s*["']@aws-sdk\/[\w-]+/g) ?? []);
        return [...found].map((m) => `${f.name} imports ${m.replace(/^.*["']/, '')} from the runtime`);
      });
    }

    it('gives the jobs queue a visibility timeout of six times its function’s timeout', () => {
      expect(shortVisibility().filter((v) => !v.includes('DeadLetter'))).toEqual([]);
    });

    it('gives every SQS event source six times its function’s timeout, the dead-letter queue too', () => {
      expect(shortVisibility()).toEqual([]);
    });

    it('gives every EventBridge target a dead-letter queue', () => {
      expect(targetsWithoutDeadLetters()).toEqual([]);
    });

    it('bundles the AWS SDK the code was tested with into every function', () => {
      expect(externalSdk()).toEqual([]);
    });
  });

  it('met no call any role denies, in all of the above', () => {
    expect(stage.endpoint.calls.length).toBeGreaterThan(30);
    expect(stage.endpoint.denials()).toEqual([]);
  });
});
