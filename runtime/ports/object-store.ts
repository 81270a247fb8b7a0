import type { Readable } from 'node:stream';

export type Bucket = 'ingress' | 'archive' | 'egress';

/** What can be stored: bytes in hand, or a stream of them (a Readable is one) read once, to the end. */
export type Body = AsyncIterable<Uint8Array> | Uint8Array | string;

export interface PutOptions {
  readonly contentType?: string;
  /**
   * Only pointers (`latest.json`) may replace an object. Everything else is written once: a second put
   * of the same key fails with ObjectExistsError, so nothing archived or published is ever overwritten.
   */
  readonly replace?: boolean;
}

export class ObjectExistsError extends Error {
  constructor(
    readonly bucket: Bucket,
    readonly key: string,
  ) {
    super(`${bucket}/${key} already exists and is never overwritten`);
    this.name = 'ObjectExistsError';
  }
}

export interface GetOptions {
  /** One version of the object (S3, in a versioned bucket), never whatever the key holds now. */
  readonly versionId?: string;
}

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
}

export interface PresignOptions {
  readonly method: 'GET' | 'PUT';
  readonly expiresSeconds: number;
  /** For a PUT: signed, so the storage refuses a body of any other length (S3 checks Content-Length). */
  readonly contentLength?: number;
  /** For a PUT: signed, so the upload must declare this Content-Type. */
  readonly contentType?: string;
}

export interface ObjectStore {
  put(bucket: Bucket, key: string, body: Body, options?: PutOptions): Promise<{ size: number }>;
  /** Streams an object; NotFoundError when it is missing. */
  get(bucket: Bucket, key: string, options?: GetOptions): Promise<Readable>;
  /**
   * Bytes `start` to `end` (exclusive) of an object, read without fetching the rest (an S3 Range request, a
   * positioned read of a file): how FlatGeobuf pages are served. Fewer bytes come back when the object ends
   * sooner; NotFoundError when it is missing.
   */
  getRange(bucket: Bucket, key: string, start: number, end: number): Promise<Buffer>;
  exists(bucket: Bucket, key: string): Promise<boolean>;
  /** Keys under `prefix`, sorted. */
  list(bucket: Bucket, prefix: string): Promise<ObjectInfo[]>;
  /** Where a human (or ogr2ogr) finds the object: a path locally, an s3:// URL on AWS. */
  locate(bucket: Bucket, key: string): string;
  /**
   * A time-limited URL to read (GET) or write (PUT) one object without credentials, for partners: a presigned
   * S3 URL on AWS; locally, where there is no one to hand it to, the object's file URL.
   */
  presign(bucket: Bucket, key: string, options: PresignOptions): Promise<string>;
}

export async function readText(store: ObjectStore, bucket: Bucket, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await store.get(bucket, key)) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function readJson<T>(store: ObjectStore, bucket: Bucket, key: string): Promise<T> {
  return JSON.parse(await readText(store, bucket, key)) as T;
}
