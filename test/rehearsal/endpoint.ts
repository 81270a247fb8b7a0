// The recording endpoint: one loopback HTTP server that every AWS SDK client of the rehearsed artefacts is
// pointed at (AWS_ENDPOINT_URL). It tells the caller by the access key id in its signature, works out the
// call's action, resource and the actions AWS also authorises for it, decides them against the caller's
// role, answers AccessDenied as AWS would when a grant is missing, and otherwise answers the call: S3 through
// s3rver, DynamoDB through dynalite, the Data API on a real database, and SQS, ECS, EventBridge, Secrets
// Manager and CloudFormation from small in-memory models.
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import type { DataApiBackend } from './data-api.ts';
import { fromDataApi } from './data-api.ts';
import { type Decision, evaluate, missingStatement, type Requirement } from './iam.ts';
import type { Statement } from './template.ts';

export interface Principal {
  /** The function (or task) the access key belongs to, for messages. */
  readonly name: string;
  readonly roleArn: string;
  readonly statements: Statement[];
}

export interface Call {
  readonly principal: string;
  readonly service: string;
  readonly operation: string;
  readonly decisions: { requirement: Requirement; decision: Decision }[];
  status?: number;
}

export interface Task {
  readonly taskArn: string;
  readonly taskDefinitionArn: string;
  readonly cluster: string;
  readonly environment: Record<string, string>;
  readonly tags: { key: string; value: string }[];
  readonly startedBy?: string;
  lastStatus: 'PROVISIONING' | 'RUNNING' | 'STOPPED';
  exitCode?: number;
  stoppedReason?: string;
}

interface Message {
  MessageId: string;
  ReceiptHandle: string;
  Body: string;
  MD5OfBody: string;
  attributes: Record<string, string>;
  invisibleUntil: number;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** A request the endpoint answers with an AWS-shaped error. */
class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface EndpointOptions {
  readonly account: string;
  readonly region: string;
  readonly buckets: readonly string[];
  readonly tables: readonly { name: string; key: string }[];
  readonly database: DataApiBackend;
}

export class RecordingEndpoint {
  readonly calls: Call[] = [];
  readonly principals = new Map<string, Principal>();
  /** Resource policies' explicit denies (bucket and queue policies). */
  resourceDenies: Statement[] = [];
  readonly queues = new Map<string, Message[]>();
  readonly tasks: Task[] = [];
  readonly events: { bus: string; entry: Record<string, unknown> }[] = [];
  readonly secrets = new Map<string, { name: string; value: string }>();
  /** Stacks DescribeStacks answers, by name: outputs. */
  readonly stacks = new Map<string, Record<string, string>>();
  /** Called for each task RunTask starts (the rehearsal runs the task entry point). */
  onRunTask: (task: Task) => void = () => {};
  /** What a task definition runs with: its roles, for PassRole. */
  taskDefinitions = new Map<string, { taskRoleArn: string; executionRoleArn: string }>();
  origin = '';
  private server?: Server;
  private s3?: S3rver;
  private s3Port = 0;
  private dynamo?: Server;
  private dynamoPort = 0;
  private s3dir = '';

  constructor(private readonly options: EndpointOptions) {}

  async start(): Promise<void> {
    this.s3dir = mkdtempSync(join(tmpdir(), 'strata-rehearsal-s3-'));
    this.s3 = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: this.s3dir,
      configureBuckets: this.options.buckets.map((name) => ({ name, configs: [] })),
    });
    const s3addr = (await this.s3.run()) as AddressInfo;
    this.s3Port = s3addr.port;
    const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    this.dynamo = dynamo;
    await new Promise<void>((r) => dynamo.listen(0, '127.0.0.1', r));
    this.dynamoPort = (dynamo.address() as AddressInfo).port;
    for (const t of this.options.tables) await this.createTable(t.name, t.key);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: Error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ __type: 'InternalFailure', message: e.message }));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
    await this.s3?.close();
    await new Promise((r) => this.dynamo?.close(r));
    rmSync(this.s3dir, { recursive: true, force: true });
  }

  /** Every requirement some principal was denied, as lines naming the function, the call and the missing grant. */
  denials(calls: readonly Call[] = this.calls): string[] {
    const out: string[] = [];
    for (const c of calls)
      for (const { requirement: r, decision } of c.decisions)
        if (!decision.allowed)
          out.push(
            `${c.principal}: ${c.service}:${c.operation} needs ${r.action} on ${r.resource}${
              r.why ? ` (${r.why})` : ''
            }; ${
              decision.statement
                ? `denied by ${decision.statement.Source}`
                : `no statement grants it; missing: ${missingStatement(r)}`
            }`,
          );
    return out;
  }

  /** The environment an artefact's SDK clients need to reach this endpoint as `accessKeyId`. */
  sdkEnvironment(accessKeyId: string): Record<string, string> {
    return {
      AWS_ENDPOINT_URL: this.origin,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: 'rehearsal-secret',
      AWS_SESSION_TOKEN: 'rehearsal-session',
      AWS_REGION: this.options.region,
      AWS_DEFAULT_REGION: this.options.region,
      // s3rver reads plain bodies only; the SDK's default CRC trailers (aws-chunked) are an S3 feature it lacks.
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
  }

  private async createTable(name: string, key: string): Promise<void> {
    await this.forward(
      this.dynamoPort,
      {
        method: 'POST',
        url: '/',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.CreateTable',
          authorization:
            'AWS4-HMAC-SHA256 Credential=setup/20260101/eu-west-2/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
        },
      },
      Buffer.from(
        JSON.stringify({
          TableName: name,
          AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
          KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      ),
    );
  }

  private forward(
    port: number,
    req: { method: string; url: string; headers: Record<string, string | string[] | undefined> },
    body: Buffer,
    res?: ServerResponse,
    rewrite?: (status: number) => number,
  ): Promise<number> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | string[] | undefined> = {
        ...req.headers,
        host: `127.0.0.1:${port}`,
        'content-length': String(body.length),
      };
      delete headers['transfer-encoding'];
      const out = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers }, (r) => {
        const status = rewrite ? rewrite(r.statusCode ?? 500) : (r.statusCode ?? 500);
        if (!res) {
          r.resume();
          r.on('end', () => resolve(status));
          return;
        }
        if (status !== r.statusCode) {
          r.resume();
          res.writeHead(status, { 'content-type': 'application/xml' });
          res.end(
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
          );
          resolve(status);
          return;
        }
        res.writeHead(status, r.headers);
        r.pipe(res);
        r.on('end', () => resolve(status));
      });
      out.on('error', reject);
      out.end(body);
    });
  }

  /** Decides each requirement for the caller; unknown callers (the operator running `strata smoke`) are not judged. */
  private authorize(
    akid: string,
    service: string,
    operation: string,
    requirements: Requirement[],
  ): { call: Call; denied?: Requirement } {
    const p = this.principals.get(akid);
    const decisions = requirements.map((requirement) => ({
      requirement,
      decision: p
        ? evaluate(p.statements, this.resourceDenies, requirement)
        : ({ allowed: true } as Decision),
    }));
    const call: Call = { principal: p?.name ?? `operator(${akid})`, service, operation, decisions };
    this.calls.push(call);
    return { call, denied: decisions.find((d) => !d.decision.allowed)?.requirement };
  }

  private deniedMessage(akid: string, r: Requirement): string {
    const p = this.principals.get(akid);
    return `User: ${p?.roleArn ?? akid} is not authorized to perform: ${r.action} on resource: ${r.resource} because no identity-based policy allows the ${r.action} action`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', this.origin);
    const auth = String(req.headers.authorization ?? url.searchParams.get('X-Amz-Credential') ?? '');
    const m =
      /Credential=([^/]+)\/\d+\/[^/]+\/([^/]+)\//.exec(auth) ?? /^([^/]+)\/\d+\/[^/]+\/([^/]+)\//.exec(auth);
    if (!m) throw new Error(`an unsigned request: ${req.method} ${req.url}`);
    const [, akid, service] = m as unknown as [string, string, string];
    try {
      if (service === 's3') return await this.s3Call(akid, req, url, body, res);
      if (service === 'dynamodb') return await this.dynamoCall(akid, req, body, res);
      if (service === 'rds-data')
        return this.json(res, await this.dataApiCall(akid, url.pathname, json(body)));
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.split('.').pop() ?? '';
      if (service === 'cloudformation')
        return this.cloudFormation(akid, new URLSearchParams(body.toString()), res);
      const input = json(body);
      const handlers: Record<string, (a: string, o: string, i: Record<string, unknown>) => unknown> = {
        sqs: (a, o, i) => this.sqs(a, o, i),
        ecs: (a, o, i) => this.ecs(a, o, i),
        events: (a, o, i) => this.eventBridge(a, o, i),
        secretsmanager: (a, o, i) => this.secretsManager(a, o, i),
      };
      const h = handlers[service];
      if (!h) throw new AwsError(400, 'UnknownService', `the rehearsal endpoint does not answer ${service}`);
      this.json(res, h(akid, operation, input));
    } catch (e) {
      if (!(e instanceof AwsError)) throw e;
      res.writeHead(e.status, { 'content-type': 'application/json', 'x-amzn-errortype': e.code });
      res.end(JSON.stringify({ __type: e.code, message: e.message, Message: e.message }));
    }
  }

  private json(res: ServerResponse, out: unknown): void {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify(out ?? {}));
  }

  private check(akid: string, service: string, operation: string, requirements: Requirement[]): Call {
    const { call, denied } = this.authorize(akid, service, operation, requirements);
    if (denied) {
      call.status = 400;
      throw new AwsError(400, 'AccessDeniedException', this.deniedMessage(akid, denied));
    }
    call.status = 200;
    return call;
  }

  // --- S3 (s3rver) --------------------------------------------------------------------------------------

  private async s3Call(
    akid: string,
    req: IncomingMessage,
    url: URL,
    body: Buffer,
    res: ServerResponse,
  ): Promise<void> {
    const [, bucket = '', ...rest] = decodeURIComponent(url.pathname).split('/');
    const key = rest.join('/');
    const q = url.searchParams;
    const h = req.headers;
    const { operation, requirements } = s3Requirements(req.method ?? 'GET', bucket, key, q, h);
    const { call, denied } = this.authorize(akid, 's3', operation, requirements);
    if (denied) {
      call.status = 403;
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>${this.deniedMessage(akid, denied)}</Message></Error>`,
      );
      return;
    }
    // s3rver keeps no versions and checks no signatures of ours: it is asked anonymously for the current object.
    const forwarded = new URL(url);
    for (const k of [...forwarded.searchParams.keys()])
      if (k.startsWith('X-Amz-') || k === 'versionId') forwarded.searchParams.delete(k);
    const headers = { ...h };
    delete headers.authorization;
    // A missing key answers 404 only to a caller allowed s3:ListBucket on the bucket; others get 403.
    const probe: Requirement = {
      action: 's3:ListBucket',
      resource: `arn:aws:s3:::${bucket}`,
      context: { 's3:prefix': key },
      why: 'a GetObject/HeadObject of a missing key answers 404 only with s3:ListBucket, else 403',
    };
    call.status = await this.forward(
      this.s3Port,
      { method: req.method ?? 'GET', url: forwarded.pathname + forwarded.search, headers },
      body,
      res,
      (status) => {
        if (status !== 404 || !/^(GetObject|HeadObject)$/.test(operation)) return status;
        const p = this.principals.get(akid);
        const decision = p
          ? evaluate(p.statements, this.resourceDenies, probe)
          : ({ allowed: true } as Decision);
        call.decisions.push({ requirement: probe, decision });
        return decision.allowed ? 404 : 403;
      },
    );
  }

  // --- DynamoDB (dynalite) ------------------------------------------------------------------------------

  private async dynamoCall(
    akid: string,
    req: IncomingMessage,
    body: Buffer,
    res: ServerResponse,
  ): Promise<void> {
    const operation = String(req.headers['x-amz-target']).split('.').pop()!;
    const input = json(body) as { TableName?: string };
    const resource = `arn:aws:dynamodb:${this.options.region}:${this.options.account}:table/${input.TableName}`;
    const { call, denied } = this.authorize(akid, 'dynamodb', operation, [
      { action: `dynamodb:${operation}`, resource },
    ]);
    if (denied) {
      call.status = 400;
      throw new AwsError(400, 'AccessDeniedException', this.deniedMessage(akid, denied));
    }
    call.status = await this.forward(
      this.dynamoPort,
      { method: 'POST', url: '/', headers: req.headers as Record<string, string> },
      body,
      res,
    );
  }

  // --- RDS Data API -------------------------------------------------------------------------------------

  private async dataApiCall(akid: string, path: string, input: Record<string, unknown>): Promise<unknown> {
    const operations: Record<string, string> = {
      '/Execute': 'ExecuteStatement',
      '/BeginTransaction': 'BeginTransaction',
      '/CommitTransaction': 'CommitTransaction',
      '/RollbackTransaction': 'RollbackTransaction',
    };
    const operation = operations[path];
    if (!operation) throw new AwsError(400, 'BadRequestException', `the rehearsal does not answer ${path}`);
    this.check(akid, 'rds-data', operation, [
      { action: `rds-data:${operation}`, resource: String(input.resourceArn) },
      {
        action: 'secretsmanager:GetSecretValue',
        resource: String(input.secretArn),
        why: 'the Data API reads the database secret with the caller’s credentials',
      },
    ]);
    const db = this.options.database;
    try {
      if (operation === 'BeginTransaction') return { transactionId: await db.begin() };
      if (operation !== 'ExecuteStatement') {
        await db.end(String(input.transactionId), operation === 'CommitTransaction');
        return {
          transactionStatus:
            operation === 'CommitTransaction' ? 'Transaction Committed' : 'Rollback Complete',
        };
      }
      const { sql, params } = fromDataApi(String(input.sql), input.parameters as never);
      const rows = await db.execute(sql, params, input.transactionId as string | undefined);
      return { formattedRecords: JSON.stringify(rows), numberOfRecordsUpdated: 0 };
    } catch (e) {
      if (e instanceof AwsError) throw e;
      throw new AwsError(400, 'BadRequestException', `Database error: ${(e as Error).message}`);
    }
  }

  // --- SQS ----------------------------------------------------------------------------------------------

  queueArn(url: string): string {
    const name = url.split('/').pop();
    return `arn:aws:sqs:${this.options.region}:${this.options.account}:${name}`;
  }

  private sqs(akid: string, operation: string, i: Record<string, unknown>): unknown {
    const url = String(i.QueueUrl);
    const resource = this.queueArn(url);
    const actions: Record<string, string> = {
      SendMessage: 'sqs:SendMessage',
      SendMessageBatch: 'sqs:SendMessage',
      ReceiveMessage: 'sqs:ReceiveMessage',
      DeleteMessage: 'sqs:DeleteMessage',
      DeleteMessageBatch: 'sqs:DeleteMessage',
      ChangeMessageVisibility: 'sqs:ChangeMessageVisibility',
      ChangeMessageVisibilityBatch: 'sqs:ChangeMessageVisibility',
      GetQueueAttributes: 'sqs:GetQueueAttributes',
    };
    const action = actions[operation];
    if (!action) throw new AwsError(400, 'InvalidAction', `the rehearsal does not answer SQS ${operation}`);
    this.check(akid, 'sqs', operation, [{ action, resource }]);
    const q = this.queues.get(url) ?? [];
    this.queues.set(url, q);
    const add = (body: string) => {
      const msg: Message = {
        MessageId: randomUUID(),
        ReceiptHandle: randomUUID(),
        Body: body,
        MD5OfBody: md5(body),
        attributes: { ApproximateReceiveCount: '0', SentTimestamp: String(Date.now()) },
        invisibleUntil: 0,
      };
      q.push(msg);
      return msg;
    };
    switch (operation) {
      case 'SendMessage': {
        const m = add(String(i.MessageBody));
        return { MessageId: m.MessageId, MD5OfMessageBody: m.MD5OfBody };
      }
      case 'SendMessageBatch': {
        const entries = i.Entries as { Id: string; MessageBody: string }[];
        return {
          Successful: entries.map((e) => {
            const m = add(e.MessageBody);
            return { Id: e.Id, MessageId: m.MessageId, MD5OfMessageBody: m.MD5OfBody };
          }),
          Failed: [],
        };
      }
      case 'ReceiveMessage': {
        const now = Date.now();
        const max = Number(i.MaxNumberOfMessages ?? 1);
        const out = q.filter((m) => m.invisibleUntil <= now).slice(0, max);
        for (const m of out) {
          m.invisibleUntil = now + Number(i.VisibilityTimeout ?? 30) * 1000;
          m.attributes.ApproximateReceiveCount = String(Number(m.attributes.ApproximateReceiveCount) + 1);
        }
        return {
          Messages: out.map((m) => ({
            MessageId: m.MessageId,
            ReceiptHandle: m.ReceiptHandle,
            Body: m.Body,
            MD5OfBody: m.MD5OfBody,
            Attributes: m.attributes,
          })),
        };
      }
      case 'DeleteMessage': {
        this.queues.set(
          url,
          q.filter((m) => m.ReceiptHandle !== i.ReceiptHandle),
        );
        return {};
      }
      case 'DeleteMessageBatch': {
        const handles = new Set((i.Entries as { ReceiptHandle: string }[]).map((e) => e.ReceiptHandle));
        this.queues.set(
          url,
          q.filter((m) => !handles.has(m.ReceiptHandle)),
        );
        return { Successful: (i.Entries as { Id: string }[]).map((e) => ({ Id: e.Id })), Failed: [] };
      }
      case 'GetQueueAttributes':
        return {
          Attributes: {
            ApproximateNumberOfMessages: String(q.length),
            ApproximateNumberOfMessagesNotVisible: '0',
            ApproximateNumberOfMessagesDelayed: '0',
          },
        };
      default:
        return {};
    }
  }

  // --- ECS ----------------------------------------------------------------------------------------------

  private clusterArn(cluster: string): string {
    return cluster.startsWith('arn:')
      ? cluster
      : `arn:aws:ecs:${this.options.region}:${this.options.account}:cluster/${cluster}`;
  }

  private ecs(akid: string, operation: string, i: Record<string, unknown>): unknown {
    const cluster = this.clusterArn(String(i.cluster ?? 'default'));
    const clusterName = cluster.split('/').pop();
    const context = { 'ecs:cluster': cluster };
    const taskArn = (id: string) =>
      id.startsWith('arn:')
        ? id
        : `arn:aws:ecs:${this.options.region}:${this.options.account}:task/${clusterName}/${id}`;
    switch (operation) {
      case 'RunTask': {
        const def = String(i.taskDefinition);
        const roles = this.taskDefinitions.get(def);
        if (!roles) throw new AwsError(400, 'ClientException', `TaskDefinition not found: ${def}`);
        const tags = (i.tags as { key: string; value: string }[] | undefined) ?? [];
        const id = randomUUID().replace(/-/g, '');
        const requirements: Requirement[] = [
          { action: 'ecs:RunTask', resource: def, context },
          ...[roles.taskRoleArn, roles.executionRoleArn].map((r) => ({
            action: 'iam:PassRole',
            resource: r,
            context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
            why: 'RunTask passes the task definition’s task and execution roles',
          })),
        ];
        if (tags.length)
          requirements.push({
            action: 'ecs:TagResource',
            resource: taskArn(id),
            context: { 'ecs:CreateAction': 'RunTask', ...context },
            why: 'RunTask with tags is also authorised as ecs:TagResource on the new task',
          });
        this.check(akid, 'ecs', operation, requirements);
        const overrides = (
          i.overrides as { containerOverrides?: { environment?: { name: string; value: string }[] }[] }
        )?.containerOverrides?.[0]?.environment;
        const task: Task = {
          taskArn: taskArn(id),
          taskDefinitionArn: def,
          cluster,
          environment: Object.fromEntries((overrides ?? []).map((e) => [e.name, e.value])),
          tags,
          ...(i.startedBy ? { startedBy: String(i.startedBy) } : {}),
          lastStatus: 'PROVISIONING',
        };
        this.tasks.push(task);
        this.onRunTask(task);
        return {
          tasks: [{ taskArn: task.taskArn, lastStatus: task.lastStatus, clusterArn: cluster }],
          failures: [],
        };
      }
      case 'ListTasks': {
        this.check(akid, 'ecs', operation, [{ action: 'ecs:ListTasks', resource: '*', context }]);
        const stopped = i.desiredStatus === 'STOPPED';
        return {
          taskArns: this.tasks
            .filter(
              (t) =>
                t.cluster === cluster &&
                (t.lastStatus === 'STOPPED') === stopped &&
                (i.startedBy === undefined || t.startedBy === i.startedBy),
            )
            .map((t) => t.taskArn),
        };
      }
      case 'DescribeTasks': {
        const arns = (i.tasks as string[]).map(taskArn);
        this.check(
          akid,
          'ecs',
          operation,
          arns.map((resource) => ({ action: 'ecs:DescribeTasks', resource, context })),
        );
        return {
          tasks: this.tasks
            .filter((t) => arns.includes(t.taskArn))
            .map((t) => ({
              taskArn: t.taskArn,
              lastStatus: t.lastStatus,
              stoppedReason: t.stoppedReason,
              containers: [{ name: 'job', exitCode: t.exitCode, lastStatus: t.lastStatus }],
              tags: t.tags,
            })),
          failures: [],
        };
      }
      case 'StopTask': {
        const arn = taskArn(String(i.task));
        this.check(akid, 'ecs', operation, [{ action: 'ecs:StopTask', resource: arn, context }]);
        const t = this.tasks.find((x) => x.taskArn === arn);
        if (t) Object.assign(t, { lastStatus: 'STOPPED', stoppedReason: String(i.reason ?? '') });
        return { task: { taskArn: arn, lastStatus: 'STOPPED' } };
      }
      default:
        throw new AwsError(400, 'InvalidAction', `the rehearsal does not answer ECS ${operation}`);
    }
  }

  // --- EventBridge --------------------------------------------------------------------------------------

  private eventBridge(akid: string, operation: string, i: Record<string, unknown>): unknown {
    if (operation !== 'PutEvents')
      throw new AwsError(400, 'InvalidAction', `the rehearsal does not answer EventBridge ${operation}`);
    const entries = i.Entries as Record<string, unknown>[];
    const bus = (b: unknown) => {
      const name = String(b ?? 'default');
      return name.startsWith('arn:')
        ? name
        : `arn:aws:events:${this.options.region}:${this.options.account}:event-bus/${name}`;
    };
    this.check(
      akid,
      'events',
      operation,
      entries.map((e) => {
        const resource = bus(e.EventBusName);
        const crossAccount = resource.split(':')[4] !== this.options.account;
        return {
          action: 'events:PutEvents',
          resource,
          ...(crossAccount
            ? { why: 'cross-account: the target bus’s resource policy must also allow it' }
            : {}),
        };
      }),
    );
    for (const e of entries) this.events.push({ bus: bus(e.EventBusName), entry: e });
    return { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: randomUUID() })) };
  }

  // --- Secrets Manager ----------------------------------------------------------------------------------

  private secretsManager(akid: string, operation: string, i: Record<string, unknown>): unknown {
    const id = String(i.SecretId);
    const found = [...this.secrets.entries()].find(([arn, s]) => arn === id || s.name === id);
    const resource = found?.[0] ?? id;
    const actions: Record<string, string> = {
      GetSecretValue: 'secretsmanager:GetSecretValue',
      PutSecretValue: 'secretsmanager:PutSecretValue',
      DescribeSecret: 'secretsmanager:DescribeSecret',
    };
    const action = actions[operation];
    if (!action)
      throw new AwsError(400, 'InvalidAction', `the rehearsal does not answer Secrets Manager ${operation}`);
    this.check(akid, 'secretsmanager', operation, [{ action, resource }]);
    if (!found)
      throw new AwsError(
        400,
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret: ${id}`,
      );
    const [arn, secret] = found;
    if (operation === 'PutSecretValue') secret.value = String(i.SecretString);
    return { ARN: arn, Name: secret.name, SecretString: secret.value, VersionId: md5(secret.value) };
  }

  // --- CloudFormation (query protocol, XML) -------------------------------------------------------------

  private cloudFormation(akid: string, params: URLSearchParams, res: ServerResponse): void {
    const operation = params.get('Action') ?? '';
    const name = params.get('StackName') ?? '';
    this.authorize(akid, 'cloudformation', operation, [
      { action: `cloudformation:${operation}`, resource: name },
    ]);
    const outputs = this.stacks.get(name);
    res.setHeader('content-type', 'text/xml');
    if (operation !== 'DescribeStacks' || !outputs) {
      res.writeHead(400);
      res.end(
        `<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${xml(name)} does not exist</Message></Error></ErrorResponse>`,
      );
      return;
    }
    const members = Object.entries(outputs)
      .map(
        ([k, v]) => `<member><OutputKey>${xml(k)}</OutputKey><OutputValue>${xml(v)}</OutputValue></member>`,
      )
      .join('');
    res.writeHead(200);
    res.end(
      `<DescribeStacksResponse><DescribeStacksResult><Stacks><member><StackName>${xml(name)}</StackName><StackId>arn:aws:cloudformation:${this.options.region}:${this.options.account}:stack/${xml(name)}/1</StackId><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult></DescribeStacksResponse>`,
    );
  }
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function json(body: Buffer): Record<string, unknown> {
  return body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
}

/** What an S3 REST request is, and every action IAM authorises it as (AWS's "actions, resources and condition keys for S3"). */
export function s3Requirements(
  method: string,
  bucket: string,
  key: string,
  q: URLSearchParams,
  h: Record<string, string | string[] | undefined>,
): { operation: string; requirements: Requirement[] } {
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const object = `${bucketArn}/${key}`;
  const versioned = q.has('versionId');
  const req = (
    action: string,
    resource = object,
    why?: string,
    context?: Requirement['context'],
  ): Requirement => ({
    action,
    resource,
    ...(why ? { why } : {}),
    ...(context ? { context } : {}),
  });
  if (!key) {
    if (method === 'GET' && q.has('versions'))
      return { operation: 'ListObjectVersions', requirements: [req('s3:ListBucketVersions', bucketArn)] };
    if (method === 'GET' || method === 'HEAD')
      return {
        operation: method === 'HEAD' ? 'HeadBucket' : 'ListObjectsV2',
        requirements: [req('s3:ListBucket', bucketArn, undefined, { 's3:prefix': q.get('prefix') ?? '' })],
      };
    if (method === 'POST' && q.has('delete'))
      return { operation: 'DeleteObjects', requirements: [req('s3:DeleteObject', `${bucketArn}/*`)] };
    return { operation: `${method} bucket`, requirements: [req(`s3:${method}Bucket`, bucketArn)] };
  }
  const extra: Requirement[] = [];
  const kms = h['x-amz-server-side-encryption-aws-kms-key-id'];
  if (kms) extra.push(req('kms:GenerateDataKey', String(kms), 'a PutObject with a KMS key encrypts with it'));
  if (method === 'GET' || method === 'HEAD') {
    if (q.has('tagging'))
      return { operation: 'GetObjectTagging', requirements: [req('s3:GetObjectTagging')] };
    return {
      operation: method === 'HEAD' ? 'HeadObject' : 'GetObject',
      requirements: [
        versioned
          ? req(
              's3:GetObjectVersion',
              object,
              'a GetObject/HeadObject with a VersionId is s3:GetObjectVersion',
            )
          : req('s3:GetObject'),
      ],
    };
  }
  if (method === 'PUT') {
    if (q.has('tagging'))
      return { operation: 'PutObjectTagging', requirements: [req('s3:PutObjectTagging')] };
    if (q.has('uploadId')) return { operation: 'UploadPart', requirements: [req('s3:PutObject')] };
    const requirements = [req('s3:PutObject'), ...extra];
    if (h['x-amz-tagging']) requirements.push(req('s3:PutObjectTagging', object, 'a PutObject with Tagging'));
    if (h['x-amz-acl']) requirements.push(req('s3:PutObjectAcl', object, 'a PutObject with an ACL'));
    if (h['x-amz-object-lock-legal-hold'])
      requirements.push(req('s3:PutObjectLegalHold', object, 'a PutObject with a legal hold'));
    if (h['x-amz-object-lock-mode'])
      requirements.push(req('s3:PutObjectRetention', object, 'a PutObject with a retention'));
    const source = h['x-amz-copy-source'];
    if (source) {
      const [path, query] = decodeURIComponent(String(source)).replace(/^\//, '').split('?');
      requirements.push(
        query?.includes('versionId')
          ? req('s3:GetObjectVersion', `arn:aws:s3:::${path}`, 'CopyObject reads its source version')
          : req('s3:GetObject', `arn:aws:s3:::${path}`, 'CopyObject reads its source'),
      );
      return { operation: 'CopyObject', requirements };
    }
    return { operation: 'PutObject', requirements };
  }
  if (method === 'POST') {
    if (q.has('uploads')) {
      const requirements = [req('s3:PutObject'), ...extra];
      if (h['x-amz-tagging']) requirements.push(req('s3:PutObjectTagging', object, 'an upload with Tagging'));
      return { operation: 'CreateMultipartUpload', requirements };
    }
    if (q.has('uploadId'))
      return { operation: 'CompleteMultipartUpload', requirements: [req('s3:PutObject')] };
  }
  if (method === 'DELETE') {
    if (q.has('uploadId'))
      return { operation: 'AbortMultipartUpload', requirements: [req('s3:AbortMultipartUpload')] };
    return {
      operation: 'DeleteObject',
      requirements: [req(versioned ? 's3:DeleteObjectVersion' : 's3:DeleteObject')],
    };
  }
  return { operation: `${method} object`, requirements: [req(`s3:${method}Object`)] };
}
