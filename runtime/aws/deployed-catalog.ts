import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { unpackCatalog } from '../catalog-files/bundle.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import { ENV } from './names.ts';

export interface DeployedCatalogLocation {
  readonly bucket: string;
  readonly key: string;
  /** What the stack recorded at synth: the pack must hash to it. */
  readonly sha256: string;
}

/** Where the child stack put this deployment's catalog, from the environment it gave the task or function. */
export function deployedCatalogLocation(env: NodeJS.ProcessEnv = process.env): DeployedCatalogLocation {
  const bucket = env[ENV.catalogBucket];
  const key = env[ENV.catalogKey];
  const sha256 = env[ENV.catalogSha256];
  if (!bucket || !key || !sha256)
    throw new Error(
      `the deployed catalog is not configured: ${ENV.catalogBucket}, ${ENV.catalogKey} and ${ENV.catalogSha256} must be set`,
    );
  return { bucket, key, sha256 };
}

/**
 * The catalog the child stack deployed (a pack in S3), checked against the sha256 the stack recorded: a
 * task or function never works with a catalog other than the one its deployment names.
 */
export async function readDeployedCatalog(
  location: DeployedCatalogLocation,
  s3: S3Client = new S3Client({}),
): Promise<Catalog> {
  const out = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
  if (!out.Body) throw new Error(`s3://${location.bucket}/${location.key} has no body`);
  const bytes = Buffer.from(await out.Body.transformToByteArray());
  return unpackCatalog(bytes, location.sha256, `s3://${location.bucket}/${location.key}`);
}
