import { createHash } from 'node:crypto';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { DynamoFreshnessStore } from '../../runtime/adapters/aws/dynamo-freshness-store.ts';
import { ENV } from '../../runtime/aws/names.ts';
import { CoreChild } from '../../runtime/federation/intake.ts';
import { requireEnv } from './env.ts';

/**
 * The core's children (name, account, public key), as its stack wrote them from the core's config: an S3
 * object checked against the sha256 the stack recorded (a Lambda variable holds 4 KB, about 30 children),
 * or, for tests and local runs, the JSON itself in STRATA_CORE_CHILDREN.
 */
export async function coreChildren(
  env: NodeJS.ProcessEnv = process.env,
  s3?: S3Client,
): Promise<CoreChild[]> {
  const need = (name: string) => {
    const v = env[name];
    if (!v) throw new Error(`environment variable ${name} is not set`);
    return v;
  };
  const key = env[ENV.coreChildrenKey];
  if (!key) return z.array(CoreChild).parse(JSON.parse(need(ENV.coreChildren)));
  const bucket = need(ENV.coreChildrenBucket);
  const sha256 = need(ENV.coreChildrenSha256);
  const out = await (s3 ?? new S3Client({})).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from((await out.Body?.transformToByteArray()) ?? []);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256)
    throw new Error(`s3://${bucket}/${key}: sha256 ${actual}, but the stack recorded ${sha256}`);
  return z.array(CoreChild).parse(JSON.parse(bytes.toString('utf8')));
}

export function freshnessStore(): DynamoFreshnessStore {
  return new DynamoFreshnessStore(requireEnv(ENV.freshnessTable));
}
