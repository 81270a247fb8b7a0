import { randomUUID } from 'node:crypto';
import { link, lstat, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { s3ListRequestsFor, Usage } from '../../cost/usage.ts';
import { NotFoundError } from '../../errors.ts';
import {
  type Body,
  type Bucket,
  ObjectExistsError,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
} from '../../ports/object-store.ts';
import { openPlainFile, writeBody } from '../../util/files.ts';

/** Guards against keys that would escape the bucket directory. */
function checkKey(key: string): void {
  if (key === '' || key.startsWith('/') || key.split('/').some((p) => p === '..' || p === '.' || p === ''))
    throw new Error(`invalid object key "${key}"`);
}

/**
 * A directory per bucket. Writes go to a temporary file first and are linked into place, which fails if the
 * key exists: an object is complete or absent, and never overwritten unless `replace` is asked for. Calls
 * are counted as the requests S3 would take for them, so a run's cost ledger reads the same here as on AWS.
 */
export class FsObjectStore implements ObjectStore {
  constructor(readonly root: string) {}

  private path(bucket: Bucket, key: string): string {
    checkKey(key);
    return join(this.root, bucket, ...key.split('/'));
  }

  async put(bucket: Bucket, key: string, body: Body, options: PutOptions = {}) {
    const target = this.path(bucket, key);
    const tmpDir = join(this.root, bucket, '.tmp');
    await mkdir(tmpDir, { recursive: true });
    await mkdir(dirname(target), { recursive: true });
    const tmp = join(tmpDir, randomUUID());
    try {
      const fh = await open(tmp, 'wx');
      let size: number;
      try {
        size = await writeBody(fh, body);
      } finally {
        await fh.close();
      }
      if (options.replace) {
        await rename(tmp, target);
      } else {
        try {
          await link(tmp, target);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(bucket, key);
          throw e;
        }
        await unlink(tmp);
      }
      Usage.s3Put(size);
      return { size };
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }

  /** A folder keeps one version of each object: `versionId` has nothing to choose from. Links are not followed. */
  async get(bucket: Bucket, key: string): Promise<Readable> {
    const path = this.path(bucket, key);
    try {
      const { fh, size } = await openPlainFile(path);
      Usage.s3Get(size);
      return fh.createReadStream({ highWaterMark: 1 << 20 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new NotFoundError(`${bucket}/${key} not found`);
      throw e;
    }
  }

  async getRange(bucket: Bucket, key: string, start: number, end: number): Promise<Buffer> {
    if (!(start >= 0 && end >= start))
      throw new Error(`invalid byte range ${start}-${end} of ${bucket}/${key}`);
    let fh: import('node:fs/promises').FileHandle;
    try {
      fh = await open(this.path(bucket, key), 'r');
    } catch {
      throw new NotFoundError(`${bucket}/${key} not found`);
    }
    try {
      const buffer = Buffer.allocUnsafe(end - start);
      let filled = 0;
      while (filled < buffer.length) {
        const { bytesRead } = await fh.read(buffer, filled, buffer.length - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === buffer.length ? buffer : buffer.subarray(0, filled);
    } finally {
      await fh.close();
    }
  }

  async exists(bucket: Bucket, key: string): Promise<boolean> {
    Usage.s3Head();
    try {
      return (await stat(this.path(bucket, key))).isFile();
    } catch {
      return false;
    }
  }

  async list(bucket: Bucket, prefix: string): Promise<ObjectInfo[]> {
    const base = join(this.root, bucket);
    const out: ObjectInfo[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        const key = relative(base, p).split(sep).join('/');
        if (key === '.tmp') continue;
        if (e.isDirectory()) {
          if (prefix.startsWith(`${key}/`) || `${key}/`.startsWith(prefix)) await walk(p);
        } else if (e.isFile() && key.startsWith(prefix)) {
          // Regular files only: a link or a pipe is no object (and a link is never followed out of the bucket).
          out.push({ key, size: (await lstat(p)).size });
        }
      }
    };
    await walk(base);
    Usage.s3List(s3ListRequestsFor(out.length));
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async presign(bucket: Bucket, key: string): Promise<string> {
    return pathToFileURL(this.path(bucket, key)).toString();
  }

  locate(bucket: Bucket, key: string): string {
    return this.path(bucket, key.replace(/\/$/, ''));
  }
}
