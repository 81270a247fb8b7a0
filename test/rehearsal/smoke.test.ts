// `strata smoke` against the rehearsal's endpoints: CloudFormation, Secrets Manager, ECS and S3 speak the
// AWS protocols (the recording endpoint, s3rver); the partner API is a small stand-in whose run progresses
// one step per look. The command's own logic (outputs, the temporary key and its revocation, the signed
// upload, following the run, reading back, where it stopped) is the real one.
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ECSClient } from '@aws-sdk/client-ecs';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SmokeDeps, smoke } from '../../runtime/aws/smoke.ts';
import { STACK_OUTPUT } from '../../runtime/aws/stack-outputs.ts';
import { emptyDirectory, findApiKey, parseDirectory } from '../../runtime/partners/credentials.ts';
import type { DataApiBackend } from './data-api.ts';
import { RecordingEndpoint } from './endpoint.ts';
import { ROOT } from './template.ts';

const run = promisify(execFile);
const STACK = 'strata-child-a';
const DIRECTORY = 'arn:aws:secretsmanager:eu-west-2:222222222222:secret:strata-partners-AbCdEf';
const CLUSTER = 'arn:aws:ecs:eu-west-2:222222222222:cluster/strata-child-a-tasks';
const INGRESS = 'strata-child-a-ingress';
const CSV = 'geoname_id,name,country\n1,Aberdeen,GB\n';
const noDatabase: DataApiBackend = {
  execute: () => Promise.reject(new Error('no database in the smoke test')),
  begin: () => Promise.reject(new Error('no database')),
  end: () => Promise.reject(new Error('no database')),
  close: async () => {},
};

/**
 * The partner API's stand-in: it checks the caller's key against the directory secret as the real one does,
 * signs a real PUT into the ingress bucket, and moves the upload's run one step on each look.
 */
interface Outcome {
  fail?: string;
  /** Calls answered 401 whatever the key, as a warm instance does while its directory cache is old. */
  staleFor?: number;
  /** What `/products/…/latest` answers instead of its truth. */
  latestStatus?: number;
}

function partnerApi(endpoint: RecordingEndpoint, s3: S3Client, outcome: Outcome) {
  const steps = ['waiting', 'queued', 'running', 'done'];
  let step = 0;
  let published: string | undefined;
  const runId = '20261207T130000000Z-5a0e5a0e';
  return createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    for await (const _ of req);
    if (outcome.staleFor && outcome.staleFor-- > 0) return send(401, { detail: 'unknown key' });
    const doc = parseDirectory(endpoint.secrets.get(DIRECTORY)!.value, 'test');
    if (!findApiKey(doc, String(req.headers['x-api-key'] ?? ''))) return send(401, { detail: 'unknown key' });
    const path = new URL(req.url!, 'http://x').pathname.replace(/^\/v1/, '');
    if (req.method === 'POST' && path === '/datasets/world_places/uploads') {
      const key = 'partners/smoke/world_places/u1-smoke.csv';
      const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: INGRESS, Key: key }), {
        expiresIn: 900,
      });
      return send(201, {
        uploadId: 'u1-smoke.csv',
        dataset: 'world_places',
        key,
        method: 'PUT',
        url,
        headers: {},
      });
    }
    if (path === '/datasets/world_places/uploads/u1-smoke.csv') {
      const now = steps[Math.min(step++, steps.length - 1)];
      if (now === 'waiting') return send(200, { status: 'waiting', run: null });
      if (now === 'running' && !endpoint.tasks.length)
        endpoint.tasks.push({
          taskArn: `${CLUSTER.replace(':cluster/', ':task/')}/0123456789abcdef`,
          taskDefinitionArn: 'small',
          cluster: CLUSTER,
          environment: {},
          tags: [],
          startedBy: `strata-${runId}`,
          lastStatus: 'RUNNING',
        });
      if (now !== 'done') return send(200, { status: now, run: { id: runId, status: now } });
      if (outcome.fail)
        return send(200, {
          status: 'failed',
          run: { id: runId, status: 'failed', error: { message: outcome.fail } },
        });
      published = '20261207T130500000Z-0b0b0b0b';
      return send(200, { status: 'succeeded', run: { id: runId, status: 'succeeded' } });
    }
    if (path === '/products/county_places/latest' && outcome.latestStatus)
      return send(outcome.latestStatus, { detail: 'database resuming' });
    if (path === '/products/county_places/latest')
      return published ? send(200, { version: published, outputs: [{ name: 'places' }] }) : send(404, {});
    if (path === '/datasets/world_places/versions') return send(200, { versions: [{ version: 'v1' }] });
    send(404, { detail: `no route ${path}` });
  });
}

describe('strata smoke', () => {
  let endpoint: RecordingEndpoint;
  let api: Server;
  let s3: S3Client;
  let deps: SmokeDeps;
  const outcome: Outcome = {};
  const credentials = { accessKeyId: 'AKIAOPERATOR', secretAccessKey: 'x' };

  beforeAll(async () => {
    endpoint = new RecordingEndpoint({
      account: '222222222222',
      region: 'eu-west-2',
      buckets: [INGRESS],
      tables: [],
      database: noDatabase,
    });
    await endpoint.start();
    const client = { endpoint: endpoint.origin, region: 'eu-west-2', credentials };
    s3 = new S3Client({ ...client, forcePathStyle: true });
    deps = {
      cloudFormation: new CloudFormationClient(client),
      secrets: new SecretsManagerClient(client),
      ecs: new ECSClient(client),
      fetch: globalThis.fetch,
      now: Date.now,
      sleep: async () => {},
    };
  });
  afterAll(async () => {
    await new Promise((r) => api.close(r));
    await endpoint?.stop();
  });
  beforeEach(async () => {
    // Prepare: a deployed stack's outputs, an empty partner directory, a fresh partner API.
    if (api) await new Promise((r) => api.close(r));
    api = partnerApi(endpoint, s3, outcome);
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    endpoint.tasks.length = 0;
    endpoint.secrets.set(DIRECTORY, { name: 'strata-partners', value: JSON.stringify(emptyDirectory()) });
    endpoint.stacks.set(STACK, {
      [STACK_OUTPUT.partnerApiUrl]: `http://127.0.0.1:${(api.address() as AddressInfo).port}/v1/`,
      [STACK_OUTPUT.partnerDirectorySecretArn]: DIRECTORY,
      [STACK_OUTPUT.taskClusterArn]: CLUSTER,
      [STACK_OUTPUT.taskLogGroup]: '/strata/child-a/tasks',
      [STACK_OUTPUT.ingressLogGroup]: '/aws/lambda/strata-child-a-ingress',
      [STACK_OUTPUT.dispatcherLogGroup]: '/aws/lambda/strata-child-a-dispatcher',
      [STACK_OUTPUT.partnerApiLogGroup]: '/aws/lambda/strata-child-a-partner-api',
    });
    outcome.fail = undefined;
    outcome.staleFor = undefined;
    outcome.latestStatus = undefined;
  });

  const options = {
    stack: STACK,
    dataset: 'world_places',
    product: 'county_places',
    file: { name: 'smoke.csv', bytes: new TextEncoder().encode(CSV) },
  };

  it('follows an upload through every hop, reads the product back and revokes its key', async () => {
    // Act
    const report = await smoke(options, deps);

    // Assess
    expect(report, JSON.stringify(report)).toMatchObject({ ok: true });
    expect(report.hops.map((h) => h.hop)).toEqual([
      'stack',
      'key',
      'upload',
      'queued',
      'task',
      'load',
      'publish',
      'read',
      'revoke',
    ]);
    expect(report.hops.find((h) => h.hop === 'task')!.detail).toBe(endpoint.tasks[0]!.taskArn);
    // The file really went to ingress, through the signed URL.
    await s3.send(
      new HeadObjectCommand({ Bucket: INGRESS, Key: 'partners/smoke/world_places/u1-smoke.csv' }),
    );
    // The key is gone: the directory is as it was.
    expect(parseDirectory(endpoint.secrets.get(DIRECTORY)!.value, 'test').partners).toEqual({});
  });

  it('says where a failed run stopped and which log group to read, and still revokes the key', async () => {
    outcome.fail = 'world_places: column "geoname_id" is required';

    const report = await smoke(options, deps);

    expect(report).toMatchObject({
      ok: false,
      stoppedAt: 'load',
      reason: expect.stringContaining('column "geoname_id" is required'),
      logGroup: '/strata/child-a/tasks',
    });
    expect(report.hops.at(-1)!.hop).toBe('revoke');
    expect(parseDirectory(endpoint.secrets.get(DIRECTORY)!.value, 'test').partners).toEqual({});
  });

  it('waits for the partner API to know its new key (its directory cache) instead of failing the upload', async () => {
    outcome.staleFor = 3;

    const report = await smoke(options, deps);

    expect(report, JSON.stringify(report)).toMatchObject({ ok: true });
  });

  it('stops when the product cannot be read first, rather than taking any version for a new one', async () => {
    outcome.latestStatus = 503;

    const report = await smoke(options, deps);

    expect(report).toMatchObject({
      ok: false,
      stoppedAt: 'read',
      reason: expect.stringContaining('503'),
      logGroup: '/aws/lambda/strata-child-a-partner-api',
    });
    expect(parseDirectory(endpoint.secrets.get(DIRECTORY)!.value, 'test').partners).toEqual({});
  });

  it('stops at the stack when there is no such stack, having made no key', async () => {
    const report = await smoke({ ...options, stack: 'strata-nowhere' }, deps);

    expect(report).toMatchObject({
      ok: false,
      stoppedAt: 'stack',
      reason: expect.stringContaining('strata-nowhere'),
    });
    expect(report.hops).toEqual([]);
  });

  it('runs as `strata smoke --json` with the credentials and endpoint of the environment', async () => {
    const file = join(ROOT, 'test', 'rehearsal', 'fixtures', 'smoke.csv');
    const { stdout } = await run(
      process.execPath,
      [
        'bin/strata.mjs',
        '--json',
        'smoke',
        '--stack',
        STACK,
        '--dataset',
        'world_places',
        '--file',
        file,
        '--poll',
        '0',
      ],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          AWS_ENDPOINT_URL: endpoint.origin,
          AWS_ACCESS_KEY_ID: credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
          AWS_REGION: 'eu-west-2',
        },
      },
    );

    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ ok: true, stack: STACK });
    expect(report.hops.map((h: { hop: string }) => h.hop)).toEqual([
      'stack',
      'key',
      'upload',
      'queued',
      'task',
      'load',
      'read',
      'revoke',
    ]);
  });
});
