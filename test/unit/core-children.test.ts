import { createHash } from 'node:crypto';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { coreChildren } from '../../lambdas/shared/core.ts';
import { ENV } from '../../runtime/aws/names.ts';

const children = [{ name: 'child-a', account: '222222222222' }];
const text = JSON.stringify(children);
const sha256 = createHash('sha256').update(text).digest('hex');
const body = (s: string) => ({ transformToByteArray: async () => new Uint8Array(Buffer.from(s)) }) as never;

describe("the core's children, from the asset its stack deployed", () => {
  const s3 = mockClient(S3Client);
  beforeEach(() => s3.reset());
  const env = (hash: string) => ({
    [ENV.coreChildrenBucket]: 'assets',
    [ENV.coreChildrenKey]: `${sha256}.json`,
    [ENV.coreChildrenSha256]: hash,
  });

  it('reads the object the stack named and checks it against the recorded sha256', async () => {
    s3.on(GetObjectCommand, { Bucket: 'assets', Key: `${sha256}.json` }).resolves({ Body: body(text) });
    await expect(coreChildren(env(sha256), new S3Client({}))).resolves.toMatchObject(children);
  });

  it('refuses an object that is not the one the stack recorded', async () => {
    s3.on(GetObjectCommand).resolves({ Body: body(`${text} `) });
    await expect(coreChildren(env(sha256), new S3Client({}))).rejects.toThrow(/but the stack recorded/);
  });

  it('still reads the list inline, for tests and local runs', async () => {
    await expect(coreChildren({ [ENV.coreChildren]: text })).resolves.toMatchObject(children);
  });
});
