// The rehearsal's stage: one environment synthesized with its real bundles, the recording endpoint in front
// of s3rver, dynalite and a real database, each function's role loaded as its IAM principal, and a way to run
// a function's bundle with exactly its template's environment.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { ensureBundle } from '../../bin/bundle.mjs';
import { freshDatabaseUrl } from '../helpers/engines.ts';
import { type DataApiBackend, pgBackend, pgliteBackend } from './data-api.ts';
import { RecordingEndpoint, type Task } from './endpoint.ts';
import { LOOPBACK_CA, startTlsFront, type TlsFront } from './pg-tls.ts';
import { type FunctionArtefact, type Json, Resolver, ROOT, synthesize, type Template } from './template.ts';

const run = promisify(execFile);
export const OPERATOR_KEY = 'AKIAOPERATOR';
export const TASK_KEY = 'AKIAREHEARSALTASK';
const RECORD_ENV = join(import.meta.dirname, 'record-env.mjs');

export interface Invocation {
  coldStart?: string;
  results: ({ ok: true; value: unknown } | { ok: false; error: string })[];
  /** The STRATA_* variables the code read. */
  read: string[];
  /** What the function logged (its JSON lines), for a failure's message. */
  logs: string;
}

export interface Stage {
  readonly template: Template;
  readonly resolver: Resolver;
  readonly endpoint: RecordingEndpoint;
  readonly functions: Map<string, FunctionArtefact & { accessKeyId: string }>;
  readonly engine: 'postgres' | 'pglite';
  /** The STRATA_* variables each function (and `Task`) read in any run, and the environment it had. */
  readonly reads: Map<string, { read: Set<string>; environment: Record<string, string> }>;
  /** Runs a function's bundle on these events, as one warm instance. */
  invoke(name: string, events: unknown[]): Promise<Invocation>;
  /**
   * Runs a task RunTask started: the task entry point as the image runs it (dist/task.mjs), with its task
   * definition's environment and the container override, as the task role. Needs the PostgreSQL server.
   */
  runTask(task: Task): Promise<{ exitCode: number; logs: string }>;
  /** An S3 client of the operator's (not judged by any role), for setting the scene. */
  readonly s3: S3Client;
  close(): Promise<void>;
}

export async function openStage(environment: string): Promise<Stage> {
  // Beside the project (so the bundles resolve its packages); the cache folder is not there on a clean checkout.
  mkdirSync(join(ROOT, 'node_modules', '.cache'), { recursive: true });
  const outdir = mkdtempSync(join(ROOT, 'node_modules', '.cache', 'strata-rehearsal-'));
  const work = mkdtempSync(join(tmpdir(), 'strata-rehearsal-'));
  const template = await synthesize(environment, outdir);
  const stackName = `strata-${environment}`;
  const env = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')).artifacts[stackName]
    .environment as string;
  const [, account, region] = /aws:\/\/(\d+)\/(.+)/.exec(env)!;
  const ctx = {
    account: account!,
    region: region!,
    stackName,
    endpoint: '',
    database: { host: '127.0.0.1', port: 0 },
  };
  const draft = new Resolver(template, ctx);
  const resources = Object.entries(template.Resources);
  const catalogBucket = `cdk-hnb659fds-assets-${account}-${region}`;
  const buckets = [
    ...resources.filter(([, r]) => r.Type === 'AWS::S3::Bucket').map(([id]) => draft.ref(id)),
    catalogBucket,
  ];
  const tables = resources
    .filter(([, r]) => r.Type === 'AWS::DynamoDB::Table')
    .map(([id, r]) => ({
      name: draft.ref(id),
      key: (r.Properties!.KeySchema as { AttributeName: string }[])[0]!.AttributeName,
    }));
  const url = process.env.DATABASE_URL ? await freshDatabaseUrl() : undefined;
  const database: DataApiBackend = url ? pgBackend(url) : await pgliteBackend();
  const endpoint = new RecordingEndpoint({ account: account!, region: region!, buckets, tables, database });
  await endpoint.start();
  const front: TlsFront | undefined = url ? await startTlsFront(new URL(url)) : undefined;
  const resolver = new Resolver(template, {
    ...ctx,
    endpoint: endpoint.origin,
    database: front ? { host: front.host, port: front.port } : ctx.database,
  });
  const functions = new Map(
    resolver.functions(outdir).map((f, i) => [f.name, { ...f, accessKeyId: `AKIAREHEARSAL${i}` }]),
  );
  for (const f of functions.values())
    endpoint.principals.set(f.accessKeyId, {
      name: f.name,
      roleArn: f.roleArn,
      statements: resolver.roleStatements(f.roleLogicalId),
    });
  endpoint.resourceDenies = resolver.resourceDenies();
  const definitions = resolver.taskDefinitions();
  endpoint.taskDefinitions = definitions;
  const taskRole = [...definitions.values()][0]?.taskRoleArn;
  if (taskRole)
    endpoint.principals.set(TASK_KEY, {
      name: 'Task',
      roleArn: taskRole,
      statements: resolver.roleStatements(resolver.roleByArn(taskRole)),
    });

  // The secrets the stack makes, with values as the deployment would hold them.
  for (const [id, r] of resources) {
    if (r.Type === 'AWS::RDS::DBCluster') {
      const u = new URL(url ?? 'postgres://strata:rehearsal@127.0.0.1:5432/strata');
      endpoint.secrets.set(resolver.getAtt(id, 'MasterUserSecret.SecretArn'), {
        name: `rds!${id}`,
        value: JSON.stringify({ username: u.username, password: u.password }),
      });
    }
    if (r.Type === 'AWS::SecretsManager::Secret')
      endpoint.secrets.set(resolver.ref(id), { name: resolver.name(id), value: '{}' });
  }

  const s3 = new S3Client({
    endpoint: endpoint.origin,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: OPERATOR_KEY, secretAccessKey: 'x' },
  });
  // The catalog pack, where CDK's asset publishing puts it (the functions read it at cold start).
  const catalogKey = [...functions.values()].map((f) => f.environment.STRATA_CATALOG_KEY).find(Boolean);
  if (catalogKey)
    await s3.send(
      new PutObjectCommand({
        Bucket: catalogBucket,
        Key: catalogKey,
        Body: readFileSync(join(outdir, `asset.${catalogKey}`)),
      }),
    );

  let seq = 0;
  const reads: Stage['reads'] = new Map();
  const noteReads = (name: string, read: string[], environment: Record<string, string>) => {
    const entry = reads.get(name) ?? { read: new Set<string>(), environment };
    for (const v of read) entry.read.add(v);
    reads.set(name, entry);
  };
  return {
    reads,
    template,
    resolver,
    endpoint,
    functions,
    engine: url ? 'postgres' : 'pglite',
    s3,
    async invoke(name, events) {
      const f = functions.get(name);
      if (!f)
        throw new Error(`no function ${name} in the template; there are ${[...functions.keys()].join(', ')}`);
      const n = ++seq;
      const eventsFile = join(work, `events-${n}.json`);
      const outFile = join(work, `out-${n}.json`);
      writeFileSync(eventsFile, JSON.stringify(events));
      const { NODE_OPTIONS, ...vars } = f.environment;
      const { stdout, stderr } = await run(
        process.execPath,
        [
          ...(NODE_OPTIONS ?? '').split(' ').filter(Boolean),
          join(import.meta.dirname, 'invoke.mjs'),
          f.bundle,
          f.handler,
        ],
        {
          cwd: work,
          env: {
            PATH: process.env.PATH,
            ...vars,
            ...endpoint.sdkEnvironment(f.accessKeyId),
            AWS_LAMBDA_FUNCTION_NAME: f.physicalName,
            REHEARSAL_FUNCTION_ARN: f.arn,
            REHEARSAL_TIMEOUT_S: String(f.timeout),
            REHEARSAL_EVENTS: eventsFile,
            REHEARSAL_OUT: outFile,
          },
          timeout: (f.timeout + 30) * 1000,
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      const result = JSON.parse(readFileSync(outFile, 'utf8')) as Omit<Invocation, 'logs'>;
      noteReads(name, result.read, f.environment);
      return { ...result, logs: `${stdout}${stderr}` };
    },
    async runTask(task) {
      if (!front)
        throw new Error(
          'a task needs the PostgreSQL server (DATABASE_URL): its entry point connects with pg',
        );
      const definition = definitions.get(task.taskDefinitionArn);
      if (!definition) throw new Error(`no task definition ${task.taskDefinitionArn} in the template`);
      const bundle = (await ensureBundle()).task!;
      task.lastStatus = 'RUNNING';
      const envOut = join(work, `task-${++seq}.env.json`);
      const environment = { ...definition.environment, ...task.environment };
      const child = execFile(process.execPath, ['--enable-source-maps', '--import', RECORD_ENV, bundle], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'production',
          STRATA_HOME: join(work, `task-${++seq}`),
          ...environment,
          ...endpoint.sdkEnvironment(TASK_KEY),
          STRATA_DB_CA_BUNDLE: LOOPBACK_CA,
          REHEARSAL_ENV_OUT: envOut,
        },
        maxBuffer: 64 * 1024 * 1024,
      });
      let logs = '';
      child.stdout?.on('data', (d) => {
        logs += d;
      });
      child.stderr?.on('data', (d) => {
        logs += d;
      });
      const exitCode = await new Promise<number>((r) => child.on('close', (code) => r(code ?? -1)));
      if (!existsSync(envOut)) throw new Error(`the task ended without a record of what it read:\n${logs}`);
      noteReads('Task', JSON.parse(readFileSync(envOut, 'utf8')), environment);
      Object.assign(task, {
        lastStatus: 'STOPPED',
        exitCode,
        stoppedReason: 'Essential container in task exited',
      });
      return { exitCode, logs };
    },
    async close() {
      await front?.close();
      await endpoint.stop();
      await database.close();
      if (url) {
        const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
        await admin.connect();
        await admin.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
        await admin.end();
      }
      rmSync(outdir, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** The template's resource properties, resolved. */
export function resolved(stage: Stage, id: string): Record<string, Json> {
  return stage.resolver.resolve(stage.template.Resources[id]!.Properties as Json) as Record<string, Json>;
}
