import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NotFoundError } from '../../errors.ts';
import {
  type Body,
  type Bucket,
  type GetOptions,
  ObjectExistsError,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
} from '../../ports/object-store.ts';

export type BucketNames = Readonly<Record<Bucket, string>>;

function isMissing(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return (
    err.name === 'NoSuchKey' ||
    err.name === 'NoSuchVersion' ||
    err.name === 'NotFound' ||
    err.$metadata?.httpStatusCode === 404
  );
}

function isPreconditionFailed(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'PreconditionFailed' || err.$metadata?.httpStatusCode === 412;
}

/**
 * The object store on S3. Uploads stream in parts (@aws-sdk/lib-storage), so memory stays bounded whatever
 * the size. Writes are conditional (`If-None-Match: *`): S3 itself refuses to overwrite a key, so nothing
 * archived or published is replaced, even by two writers racing; only pointers are written with `replace`.
 */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly buckets: BucketNames,
    private readonly client: S3Client = new S3Client({}),
  ) {}

  async put(bucket: Bucket, key: string, body: Body, options: PutOptions = {}): Promise<{ size: number }> {
    let size = 0;
    let counted: Readable | Uint8Array | string;
    if (typeof body === 'string' || body instanceof Uint8Array) {
      counted = body;
      size = Buffer.byteLength(body);
    } else {
      // A generator, not pipe(): an error in the body reaches the upload and aborts it.
      counted = Readable.from(
        (async function* () {
          for await (const chunk of body) {
            size += chunk.length;
            yield chunk;
          }
        })(),
      );
    }
    try {
      await new Upload({
        client: this.client,
        params: {
          Bucket: this.buckets[bucket],
          Key: key,
          Body: counted,
          ContentType: options.contentType,
          ...(options.replace ? {} : { IfNoneMatch: '*' }),
        },
        queueSize: 2,
        partSize: 8 * 1024 * 1024,
        leavePartsOnError: false,
      }).done();
    } catch (e) {
      if (isPreconditionFailed(e)) throw new ObjectExistsError(bucket, key);
      throw e;
    }
    return { size };
  }

  async get(bucket: Bucket, key: string, options: GetOptions = {}): Promise<Readable> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.buckets[bucket],
          Key: key,
          ...(options.versionId ? { VersionId: options.versionId } : {}),
        }),
      );
      return out.Body as Readable;
    } catch (e) {
      if (isMissing(e)) throw new NotFoundError(`${bucket}/${key} not found`);
      throw e;
    }
  }

  async exists(bucket: Bucket, key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.buckets[bucket], Key: key }));
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  async list(bucket: Bucket, prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.buckets[bucket], Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async presign(
    bucket: Bucket,
    key: string,
    options: { method: 'GET' | 'PUT'; expiresSeconds: number },
  ): Promise<string> {
    if (options.expiresSeconds < 1 || options.expiresSeconds > 7 * 24 * 3600)
      throw new Error(`a presigned URL lives between 1 second and 7 days, not ${options.expiresSeconds} s`);
    const input = { Bucket: this.buckets[bucket], Key: key };
    const command = options.method === 'GET' ? new GetObjectCommand(input) : new PutObjectCommand(input);
    return getSignedUrl(this.client, command, { expiresIn: options.expiresSeconds });
  }

  locate(bucket: Bucket, key: string): string {
    return `s3://${this.buckets[bucket]}/${key}`;
  }
}
