// The AWS adapters on the wire and under the faults AWS really has: the S3 adapter against a local
// S3-compatible server (s3rver), S3's 503 SlowDown (through a proxy in front of it that answers so), and
// Aurora's resume error and Data API throttling.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import S3rver from 's3rver';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DataApiDatabase } from '../../runtime/adapters/aws/data-api-database.ts';
import { S3ObjectStore } from '../../runtime/adapters/aws/s3-object-store.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { NotFoundError } from '../../runtime/errors.ts';
import { executeJob } from '../../runtime/jobs/execute.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import type { Platform } from '../../runtime/platform/platform.ts';
import { readText } from '../../runtime/ports/object-store.ts';
import { RunRegistry } from '../../runtime/runs/registry.ts';
import { onWebhook, parseWebhookSecrets } from '../../runtime/triggers/webhook.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { notesCatalog, writeNotes } from '../helpers/notes.ts';

const BUCKETS = { ingress: 'ingress', archive: 'archive', egress: 'egress' };

/**
 * s3rver on a free port, and a proxy in front of it that answers `503 SlowDown` to the requests `slowDown`
 * picks (the test sets it), as S3 does when a prefix is written too fast.
 */
async function s3OnTheWire() {
  const dir = await mkdtemp(join(tmpdir(), 'strata-s3rver-'));
  const s3rver = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: dir,
    configureBuckets: Object.values(BUCKETS).map((name) => ({ name, configs: [] })),
  });
  const { port: backend } = (await s3rver.run()) as unknown as AddressInfo;
  const state = { slowDown: (_method: string, _path: string) => false, slowedDown: 0 };
  const proxy: Server = createServer((req, res) => {
    if (state.slowDown(req.method ?? '', req.url ?? '')) {
      state.slowedDown++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
      );
      return;
    }
    const upstream = request(
      { host: '127.0.0.1', port: backend, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const client = new S3Client({
    region: 'eu-west-2',
    endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  return {
    store: new S3ObjectStore(BUCKETS, client),
    state,
    close: async () => {
      client.destroy();
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
      await s3rver.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('faults: the S3 adapter on the wire (s3rver)', () => {
  let s3: Awaited<ReturnType<typeof s3OnTheWire>>;
  beforeAll(async () => {
    s3 = await s3OnTheWire();
  });
  afterAll(async () => s3?.close());
  beforeEach(() => {
    s3.state.slowDown = () => false;
    s3.state.slowedDown = 0;
  });

  it('puts a stream in parts, gets it back byte for byte, lists by prefix, and says what is missing', async () => {
    // Prepare: 9 MiB, more than one part of 8 MiB.
    const chunk = Buffer.alloc(1 << 20, 'x');
    const parts = Array.from({ length: 9 }, (_, i) =>
      Buffer.concat([Buffer.from(`${i}`), chunk.subarray(1)]),
    );
    // Act
    const { size } = await s3.store.put('archive', 'datasets/a/v1/big.csv', Readable.from(parts));
    await s3.store.put('archive', 'datasets/a/v1/metadata.json', '{"ok":true}');
    // Assess
    expect(size).toBe(9 << 20);
    const back: Buffer[] = [];
    for await (const c of await s3.store.get('archive', 'datasets/a/v1/big.csv')) back.push(c as Buffer);
    expect(Buffer.concat(back).equals(Buffer.concat(parts))).toBe(true);
    expect(await readText(s3.store, 'archive', 'datasets/a/v1/metadata.json')).toBe('{"ok":true}');
    expect((await s3.store.list('archive', 'datasets/a/')).map((o) => [o.key, o.size])).toEqual([
      ['datasets/a/v1/big.csv', 9 << 20],
      ['datasets/a/v1/metadata.json', 11],
    ]);
    expect(await s3.store.exists('archive', 'datasets/a/v1/nope')).toBe(false);
    await expect(s3.store.get('archive', 'datasets/a/v1/nope')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('S3 503 SlowDown: a put that S3 slows down is retried by the SDK and lands once', async () => {
    let left = 2;
    s3.state.slowDown = (method) => method === 'PUT' && left-- > 0;
    await s3.store.put('egress', 'products/p/v1/out.csv', 'id\n1\n');
    expect(s3.state.slowedDown).toBe(2);
    expect(await readText(s3.store, 'egress', 'products/p/v1/out.csv')).toBe('id\n1\n');
  });

  describe.each(engines())('S3 503 SlowDown that does not pass, on $name', (engine) => {
    let local: TestPlatform;
    let p: Platform;
    let catalog: Catalog;
    beforeAll(async () => {
      local = await testPlatform(engine);
      p = { ...local, store: s3.store };
      catalog = await notesCatalog(join(local.dir, 'catalog'));
    });
    afterAll(async () => local?.close());

    it('fails the ingest with the cause and archives nothing', async () => {
      // Prepare: every write to the archive is slowed down, for longer than the SDK retries.
      s3.state.slowDown = (method, path) => method === 'PUT' && path.startsWith('/archive/');
      const path = await writeNotes(local.dir, `slow-${engine.name}.csv`, 3, engine.name);
      const run = await submit(
        p,
        { kind: 'ingest', dataset: 'notes', source: { path }, filename: 'slow.csv' },
        { kind: 'cli' },
      );
      const [job] = await p.queue.receive(1, 60);
      // Act
      const done = await executeJob(p, catalog, job!.job);
      // Assess
      expect(done).toMatchObject({ id: run.id, status: 'failed' });
      expect(String(done.error?.message)).toMatch(/reduce your request rate/i);
      expect(s3.state.slowedDown).toBeGreaterThanOrEqual(3);
      expect(await s3.store.list('archive', 'datasets/notes/')).toEqual([]);
      const [versions] = await p.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM strata.dataset_versions',
      );
      expect(versions!.n).toBe(0);
    });
  });
});

describe("faults: Aurora's resume error and Data API throttling", () => {
  const rds = mockClient(RDSDataClient);
  const target = {
    resourceArn: 'arn:aws:rds:eu-west-2:222222222222:cluster:strata',
    secretArn: 'arn:s',
    database: 'strata',
  };
  beforeEach(() => rds.reset());
  const error = (name: string) => Object.assign(new Error(name), { name });

  it('waits for a paused cluster to resume and for throttling to pass, backing off', async () => {
    rds
      .on(ExecuteStatementCommand)
      .rejectsOnce(error('DatabaseResumingException'))
      .rejectsOnce(error('DatabaseResumingException'))
      .rejectsOnce(error('ThrottlingException'))
      .resolves({ formattedRecords: '[{"n":1}]' });
    const waits: number[] = [];
    const db = new DataApiDatabase(target, new RDSDataClient({ region: 'eu-west-2' }), 45_000, async (ms) => {
      waits.push(ms);
    });
    expect(await db.query('SELECT 1 AS n')).toEqual([{ n: 1 }]);
    expect(waits).toEqual([500, 1000, 2000]);
  });

  it('gives up after its deadline, and a webhook then answers 503 "starting up", not an error', async () => {
    rds.on(ExecuteStatementCommand).rejects(error('DatabaseResumingException'));
    const waits: number[] = [];
    const db = new DataApiDatabase(target, new RDSDataClient({ region: 'eu-west-2' }), 10_000, async (ms) => {
      waits.push(ms);
    });
    await expect(db.query('SELECT 1')).rejects.toMatchObject({ name: 'DatabaseResumingException' });
    expect(waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(10_000);
    const body = '{"ref":"main"}';
    const { createHmac } = await import('node:crypto');
    const out = await onWebhook(
      {
        hook: 'copy',
        body: Buffer.from(body),
        signature: `sha256=${createHmac('sha256', 's').update(body).digest('hex')}`,
        deliveryId: 'aurora-1',
      },
      {
        catalog: { products: new Map([['copy', {}]]) } as unknown as Catalog,
        runs: new RunRegistry(db),
        queue: { send: async () => {} } as never,
        secrets: parseWebhookSecrets('{"copy":"s"}', 'test'),
      },
    );
    expect(out).toEqual({
      statusCode: 503,
      headers: { 'retry-after': '30' },
      body: { error: 'the platform is starting up; send it again shortly' },
    });
  });

  it('does not retry what will not pass (a bad statement)', async () => {
    rds.on(ExecuteStatementCommand).rejects(error('BadRequestException'));
    const waits: number[] = [];
    const db = new DataApiDatabase(target, new RDSDataClient({ region: 'eu-west-2' }), 45_000, async (ms) => {
      waits.push(ms);
    });
    await expect(db.query('SELEC 1')).rejects.toMatchObject({ name: 'BadRequestException' });
    expect(waits).toEqual([]);
  });
});
