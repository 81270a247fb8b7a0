// The rehearsal's stage: one environment synthesized with its real bundles, the recording endpoint in front
// of s3rver, dynalite and a real database, each function's role loaded as its IAM principal, and a way to run
// a function's bundle with exactly its template's environment.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { freshDatabaseUrl } from '../helpers/engines.ts';
import { type DataApiBackend, pgBackend, pgliteBackend } from './data-api.ts';
import { RecordingEndpoint } from './endpoint.ts';
import { type FunctionArtefact, type Json, Resolver, ROOT, synthesize, type Template } from './template.ts';

const run = promisify(execFile);
export const OPERATOR_KEY = 'AKIAOPERATOR';

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
  /** Runs a function's bundle on these events, as one warm instance. */
  invoke(name: string, events: unknown[]): Promise<Invocation>;
  /** An S3 client of the operator's (not judged by any role), for setting the scene. */
  readonly s3: S3Client;
  close(): Promise<void>;
}

export async function openStage(environment: string): Promise<Stage> {
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
  const resolver = new Resolver(template, { ...ctx, endpoint: endpoint.origin });
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
  endpoint.taskDefinitions = resolver.taskDefinitions();

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
  return {
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
      return { ...JSON.parse(readFileSync(outFile, 'utf8')), logs: `${stdout}${stderr}` } as Invocation;
    },
    async close() {
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
