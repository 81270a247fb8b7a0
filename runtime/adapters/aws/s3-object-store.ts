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
import { S3_PART_BYTES, Usage } from '../../cost/usage.ts';
import { NotFoundError } from '../../errors.ts';
import {
  type Body,
  type Bucket,
  type GetOptions,
  ObjectExistsError,
  type ObjectInfo,
  type ObjectStore,
  type PresignOptions,
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
 * the size. Every request is counted for the cost ledger of the run that makes it. Writes are conditional (`If-None-Match: *`): S3 itself refuses to overwrite a key, so nothing
 * archived or published is replaced, even by two writers racing; only pointers are written with `replace`.
 */
export class S3ObjectStore implements ObjectStore {
  /**
   * Presigned PUTs use a client that adds no checksum of its own: by default the SDK would sign the CRC32 of
   * an empty body into the URL, and S3 would refuse every real upload to it.
   */
  private readonly presigner: S3Client;

  constructor(
    private readonly buckets: BucketNames,
    private readonly client: S3Client = new S3Client({}),
  ) {
    this.presigner = new S3Client({
      region: client.config.region,
      credentials: client.config.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
  }

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
        partSize: S3_PART_BYTES,
        leavePartsOnError: false,
      }).done();
    } catch (e) {
      if (isPreconditionFailed(e)) throw new ObjectExistsError(bucket, key);
      throw e;
    }
    Usage.s3Put(size);
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
      Usage.s3Get(out.ContentLength ?? 0);
      return out.Body as Readable;
    } catch (e) {
      if (isMissing(e)) throw new NotFoundError(`${bucket}/${key} not found`);
      throw e;
    }
  }

  async getRange(bucket: Bucket, key: string, start: number, end: number): Promise<Buffer> {
    if (!(start >= 0 && end >= start))
      throw new Error(`invalid byte range ${start}-${end} of ${bucket}/${key}`);
    if (end === start) return Buffer.alloc(0);
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.buckets[bucket], Key: key, Range: `bytes=${start}-${end - 1}` }),
      );
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (e) {
      if (isMissing(e)) throw new NotFoundError(`${bucket}/${key} not found`);
      // A range that starts past the end: the object is shorter, so there are no bytes to give.
      if ((e as { name?: string }).name === 'InvalidRange') return Buffer.alloc(0);
      throw e;
    }
  }

  async exists(bucket: Bucket, key: string): Promise<boolean> {
    Usage.s3Head();
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
      Usage.s3List(1);
      for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async presign(bucket: Bucket, key: string, options: PresignOptions): Promise<string> {
    if (options.expiresSeconds < 1 || options.expiresSeconds > 7 * 24 * 3600)
      throw new Error(`a presigned URL lives between 1 second and 7 days, not ${options.expiresSeconds} s`);
    const input = { Bucket: this.buckets[bucket], Key: key };
    if (options.method === 'GET')
      return getSignedUrl(this.client, new GetObjectCommand(input), { expiresIn: options.expiresSeconds });
    // Content-Length and Content-Type are signed headers: S3 refuses a PUT whose body has another length or
    // that declares another type, so the size bound holds at the bucket, not only in what we promised.
    return getSignedUrl(
      this.presigner,
      new PutObjectCommand({
        ...input,
        ContentLength: options.contentLength,
        ContentType: options.contentType,
      }),
      {
        expiresIn: options.expiresSeconds,
        signableHeaders: new Set([
          ...(options.contentLength !== undefined ? ['content-length'] : []),
          ...(options.contentType !== undefined ? ['content-type'] : []),
        ]),
      },
    );
  }

  locate(bucket: Bucket, key: string): string {
    return `s3://${this.buckets[bucket]}/${key}`;
  }
}
