// Uploads to the ingress bucket on AWS, and duplicate S3 events: the task reads exactly the object version (and size)
// its event named, checks the upload limit against the bytes it read, and one object version makes one run.
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandInput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../runtime/adapters/aws/s3-object-store.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { executeJob } from '../../runtime/jobs/execute.ts';
import type { Platform } from '../../runtime/platform/platform.ts';
import type { JobMessage } from '../../runtime/ports/job-queue.ts';
import { onObjectCreated } from '../../runtime/triggers/ingress.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { notesCatalog, notesCsv } from '../helpers/notes.ts';

const BUCKETS = { ingress: 'in-bucket', archive: 'archive-bucket', egress: 'egress-bucket' };

/** S3 as far as these tests need it, in memory: versions per key in the ingress bucket, puts elsewhere. */
class MemoryS3 {
  readonly objects = new Map<string, Buffer>();
  readonly versions = new Map<string, Buffer>();
  constructor(private readonly mock: ReturnType<typeof mockClient>) {}
  install(): void {
    const missing = (name: string) =>
      Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 404 } });
    this.mock.on(PutObjectCommand).callsFake(async (input: PutObjectCommandInput) => {
      const key = `${input.Bucket}/${input.Key}`;
      if (input.IfNoneMatch === '*' && this.objects.has(key))
        throw Object.assign(new Error('exists'), {
          name: 'PreconditionFailed',
          $metadata: { httpStatusCode: 412 },
        });
      const body = input.Body;
      const bytes =
        typeof body === 'string'
          ? Buffer.from(body)
          : Buffer.isBuffer(body)
            ? body
            : Buffer.from(body as Uint8Array);
      this.objects.set(key, bytes);
      return { ETag: '"e"' };
    });
    this.mock.on(GetObjectCommand).callsFake(async (input: GetObjectCommandInput) => {
      const bytes = input.VersionId
        ? this.versions.get(`${input.Bucket}/${input.Key}@${input.VersionId}`)
        : this.objects.get(`${input.Bucket}/${input.Key}`);
      if (!bytes) throw missing(input.VersionId ? 'NoSuchVersion' : 'NoSuchKey');
      return { Body: Readable.from([bytes]) };
    });
    this.mock.on(HeadObjectCommand).callsFake(async (input: { Bucket: string; Key: string }) => {
      if (!this.objects.has(`${input.Bucket}/${input.Key}`)) throw missing('NotFound');
      return {};
    });
    this.mock.on(ListObjectsV2Command).callsFake(async (input: { Bucket: string; Prefix?: string }) => ({
      Contents: [...this.objects.entries()]
        .filter(([k]) => k.startsWith(`${input.Bucket}/${input.Prefix ?? ''}`))
        .map(([k, v]) => ({ Key: k.slice(input.Bucket.length + 1), Size: v.length })),
    }));
  }
  /** Uploads a version of an ingress object (the key's current one). */
  upload(key: string, versionId: string, body: string): void {
    this.versions.set(`${BUCKETS.ingress}/${key}@${versionId}`, Buffer.from(body));
    this.objects.set(`${BUCKETS.ingress}/${key}`, Buffer.from(body));
  }
  archived(): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(`${BUCKETS.archive}/`));
  }
}

describe.each(engines())('faults: ingest of S3 uploads on $name', (engine) => {
  const s3 = mockClient(S3Client);
  const memory = new MemoryS3(s3);
  let local: TestPlatform;
  let p: Platform;
  let catalog: Catalog;
  const deps = () => ({ catalog, runs: p.runs, queue: p.queue, maxBytes: 1 << 20 });
  const takeJob = async (): Promise<JobMessage> => {
    const [j] = await p.queue.receive(1, 60);
    await p.queue.delete(j!.receipt);
    return j!.job;
  };

  beforeAll(async () => {
    local = await testPlatform(engine);
    catalog = await notesCatalog(`${local.dir}/catalog`);
    p = { ...local, store: new S3ObjectStore(BUCKETS, new S3Client({ region: 'eu-west-2' })) };
  });
  afterAll(async () => local?.close());
  beforeEach(async () => {
    s3.reset();
    memory.objects.clear();
    memory.versions.clear();
    memory.install();
    for (const j of await p.queue.receive(10, 60)) await p.queue.delete(j.receipt);
  });

  it('the task reads the object version its event named, not what the key holds by then', async () => {
    // Prepare: version v1 uploaded and announced; then v2 overwrites the key before the task runs.
    const key = 'datasets/notes/day.csv';
    const v1 = notesCsv(3, 'v1');
    memory.upload(key, 'v1', v1);
    await onObjectCreated({ bucket: BUCKETS.ingress, key, size: v1.length, versionId: 'v1' }, deps());
    memory.upload(key, 'v2', notesCsv(7, 'v2'));
    const job = await takeJob();
    expect(job).toMatchObject({ source: { key, versionId: 'v1', size: v1.length } });
    // Act
    const run = await executeJob(p, catalog, job, {}, { maxUploadBytes: 1 << 20 });
    // Assess: the version read is v1's three rows.
    expect(run).toMatchObject({ status: 'succeeded', result: { rows: 3, size: v1.length } });
    const get = s3.commandCalls(GetObjectCommand).find((c) => c.args[0].input.Bucket === BUCKETS.ingress);
    expect(get?.args[0].input).toMatchObject({ Key: key, VersionId: 'v1' });
  });

  it('bytes that differ from the size the event named are refused, and nothing is archived', async () => {
    const key = 'datasets/notes/grew.csv';
    const body = notesCsv(5, 'grew');
    memory.upload(key, 'g1', body);
    // The event named fewer bytes than the version holds (a truncated or tampered announcement).
    await onObjectCreated({ bucket: BUCKETS.ingress, key, size: body.length - 10, versionId: 'g1' }, deps());
    const run = await executeJob(p, catalog, await takeJob(), {}, { maxUploadBytes: 1 << 20 });
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({
      code: 'LOAD_FAILED',
      message: `ingress/${key}: holds more than the ${body.length - 10} bytes its upload event named`,
    });
    expect(memory.archived()).toEqual([]);
  });

  it("the environment's upload limit is checked against the bytes read, not only the event", async () => {
    const key = 'datasets/notes/big.csv';
    const body = notesCsv(200, 'big');
    memory.upload(key, 'b1', body);
    await onObjectCreated({ bucket: BUCKETS.ingress, key, size: body.length, versionId: 'b1' }, deps());
    // The limit the task runs with is smaller than the one the trigger saw (a task's env is the one that counts).
    const run = await executeJob(p, catalog, await takeJob(), {}, { maxUploadBytes: 1000 });
    expect(run.status).toBe('failed');
    expect(String(run.error?.message)).toBe(
      `ingress/${key}: passed the upload limit of 1000 bytes while it was read`,
    );
    expect(memory.archived()).toEqual([]);
  });

  it('duplicate S3 events: one object version makes one run, and one version in the archive', async () => {
    const key = 'datasets/notes/twice.csv';
    const body = notesCsv(4, 'twice');
    memory.upload(key, 't1', body);
    const event = { bucket: BUCKETS.ingress, key, size: body.length, versionId: 't1' };
    // Act: EventBridge delivers the event three times; the jobs it sends are worked twice each.
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await onObjectCreated(event, deps()));
    const jobs = await p.queue.receive(10, 60);
    const runs = [];
    for (const j of [...jobs, ...jobs])
      runs.push(await executeJob(p, catalog, j.job, {}, { maxUploadBytes: 1 << 20 }));
    // Assess
    expect(outcomes.map((o) => o.status)).toEqual(['queued', 'duplicate', 'duplicate']);
    expect(new Set(jobs.map((j) => j.job.runId)).size).toBe(1);
    const run = await p.runs.get(jobs[0]!.job.runId);
    expect(run).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(memory.archived().filter((k) => k.endsWith('/twice.csv'))).toHaveLength(1);
  });

  it('an object version that no longer exists fails the run with the reason', async () => {
    const key = 'datasets/notes/gone.csv';
    await onObjectCreated({ bucket: BUCKETS.ingress, key, size: 10, versionId: 'expired' }, deps());
    const run = await executeJob(p, catalog, await takeJob(), {}, { maxUploadBytes: 1 << 20 });
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ code: 'NOT_FOUND', message: `ingress/${key} not found` });
  });
});
