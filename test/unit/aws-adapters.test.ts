import { Readable } from 'node:stream';
import { ECSClient, ListTasksCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EcsTaskLauncher } from '../../runtime/adapters/aws/ecs-task-launcher.ts';
import { S3ObjectStore } from '../../runtime/adapters/aws/s3-object-store.ts';
import { SqsJobQueue } from '../../runtime/adapters/aws/sqs-job-queue.ts';
import { NotFoundError } from '../../runtime/errors.ts';
import { ObjectExistsError } from '../../runtime/ports/object-store.ts';
import { CapacityError } from '../../runtime/ports/task-launcher.ts';

const buckets = { ingress: 'in-bucket', archive: 'archive-bucket', egress: 'egress-bucket' };

describe('S3ObjectStore', () => {
  const s3 = mockClient(S3Client);
  beforeEach(() => s3.reset());

  it('writes with If-None-Match so S3 itself refuses an overwrite', async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"x"' });
    const store = new S3ObjectStore(buckets, new S3Client({ region: 'eu-west-2' }));
    const { size } = await store.put(
      'archive',
      'datasets/a/v1/data.csv',
      Readable.from([Buffer.from('a,b\n'), Buffer.from('1,2\n')]),
      {
        contentType: 'text/csv',
      },
    );
    expect(size).toBe(8);
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({
      Bucket: 'archive-bucket',
      Key: 'datasets/a/v1/data.csv',
      IfNoneMatch: '*',
      ContentType: 'text/csv',
    });
  });

  it('fails the upload when its body fails, writing nothing, instead of waiting for more bytes', async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"x"' });
    const store = new S3ObjectStore(buckets, new S3Client({ region: 'eu-west-2' }));
    async function* body() {
      yield Buffer.from('id\n1\n');
      throw new Error('the database went away');
    }
    await expect(store.put('egress', 'products/p/v1/out.csv', body())).rejects.toThrow(
      'the database went away',
    );
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('turns a refused conditional write into ObjectExistsError, and replaces pointers on purpose', async () => {
    s3.on(PutObjectCommand, { Key: 'datasets/a/v1/data.csv' }).rejects(
      Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
        name: 'PreconditionFailed',
        $metadata: { httpStatusCode: 412 },
      }),
    );
    s3.on(PutObjectCommand, { Key: 'products/p/latest.json' }).resolves({});
    const store = new S3ObjectStore(buckets, new S3Client({ region: 'eu-west-2' }));
    await expect(store.put('archive', 'datasets/a/v1/data.csv', 'x')).rejects.toBeInstanceOf(
      ObjectExistsError,
    );
    await store.put('egress', 'products/p/latest.json', '{}', { replace: true });
    expect(s3.commandCalls(PutObjectCommand)[1]!.args[0].input.IfNoneMatch).toBeUndefined();
  });

  it('reads, tells what is missing, and lists every page', async () => {
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('missing'), { name: 'NoSuchKey' }));
    s3.on(HeadObjectCommand).rejects(
      Object.assign(new Error('missing'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } }),
    );
    s3.on(ListObjectsV2Command)
      .resolvesOnce({
        Contents: [{ Key: 'datasets/a/2/f', Size: 2 }],
        IsTruncated: true,
        NextContinuationToken: 't',
      })
      .resolvesOnce({ Contents: [{ Key: 'datasets/a/1/f', Size: 1 }], IsTruncated: false });
    const store = new S3ObjectStore(buckets, new S3Client({ region: 'eu-west-2' }));
    await expect(store.get('archive', 'nope')).rejects.toBeInstanceOf(NotFoundError);
    expect(await store.exists('archive', 'nope')).toBe(false);
    expect(await store.list('archive', 'datasets/a/')).toEqual([
      { key: 'datasets/a/1/f', size: 1 },
      { key: 'datasets/a/2/f', size: 2 },
    ]);
    expect(s3.commandCalls(ListObjectsV2Command)[1]!.args[0].input.ContinuationToken).toBe('t');
    expect(store.locate('egress', 'products/p/v/x.csv')).toBe('s3://egress-bucket/products/p/v/x.csv');
  });
});

describe('S3ObjectStore presigned URLs', () => {
  it('signs a GET for one egress object, for a limited time', async () => {
    const client = new S3Client({
      region: 'eu-west-2',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    });
    const url = new URL(
      await new S3ObjectStore(buckets, client).presign('egress', 'products/p/v1/out.csv', {
        method: 'GET',
        expiresSeconds: 300,
      }),
    );
    expect(url.hostname).toBe('egress-bucket.s3.eu-west-2.amazonaws.com');
    expect(url.pathname).toBe('/products/p/v1/out.csv');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    await expect(
      new S3ObjectStore(buckets, client).presign('egress', 'k', { method: 'PUT', expiresSeconds: 0 }),
    ).rejects.toThrow(/between 1 second and 7 days/);
  });
});

describe('SqsJobQueue', () => {
  const sqs = mockClient(SQSClient);
  beforeEach(() => sqs.reset());

  it('sends the job as JSON with its run id as an attribute', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm1' });
    await new SqsJobQueue('https://sqs.eu-west-2.amazonaws.com/2/jobs', new SQSClient({})).send({
      kind: 'build',
      runId: 'r1',
      product: 'p',
    });
    expect(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input).toEqual({
      QueueUrl: 'https://sqs.eu-west-2.amazonaws.com/2/jobs',
      MessageBody: JSON.stringify({ kind: 'build', runId: 'r1', product: 'p' }),
      MessageAttributes: { runId: { DataType: 'String', StringValue: 'r1' } },
    });
  });
});

describe('EcsTaskLauncher', () => {
  const ecs = mockClient(ECSClient);
  beforeEach(() => ecs.reset());
  const launcher = () =>
    new EcsTaskLauncher(
      {
        cluster: 'arn:cluster',
        taskDefinitions: { small: 'arn:td/small', medium: 'arn:td/medium', large: 'arn:td/large' },
        subnets: ['subnet-1', 'subnet-2'],
        securityGroups: ['sg-1'],
        assignPublicIp: true,
      },
      new ECSClient({}),
    );

  it('runs one Fargate task of the asked size with the job as an override, tagged with its run', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:task/1' }], failures: [] });
    const job = { kind: 'build' as const, runId: 'r1', product: 'p' };
    expect(await launcher().launch(job, 'medium')).toBe('arn:task/1');
    expect(ecs.commandCalls(RunTaskCommand)[0]!.args[0].input).toMatchObject({
      cluster: 'arn:cluster',
      taskDefinition: 'arn:td/medium',
      launchType: 'FARGATE',
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ['subnet-1', 'subnet-2'],
          securityGroups: ['sg-1'],
          assignPublicIp: 'ENABLED',
        },
      },
      overrides: {
        containerOverrides: [
          { name: 'job', environment: [{ name: 'STRATA_JOB', value: JSON.stringify(job) }] },
        ],
      },
      tags: [
        { key: 'strata:run', value: 'r1' },
        { key: 'strata:kind', value: 'build' },
      ],
    });
  });

  it('surfaces capacity failures as retryable, and other failures plainly', async () => {
    ecs
      .on(RunTaskCommand)
      .resolvesOnce({ failures: [{ reason: 'RESOURCE:FARGATE', detail: 'capacity unavailable' }] })
      .resolvesOnce({ failures: [{ reason: 'MISSING' }] });
    const job = { kind: 'build' as const, runId: 'r1', product: 'p' };
    await expect(launcher().launch(job, 'small')).rejects.toBeInstanceOf(CapacityError);
    await expect(launcher().launch(job, 'small')).rejects.toThrow('RunTask failed for run r1: MISSING');
  });

  it('counts running and starting tasks across pages', async () => {
    ecs
      .on(ListTasksCommand)
      .resolvesOnce({ taskArns: ['a', 'b'], nextToken: 'n' })
      .resolvesOnce({ taskArns: ['c'] });
    expect(await launcher().running()).toBe(3);
  });
});
