import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type yauzl from 'yauzl';

/** How much a zip may unpack to. Checked on the central directory first, then on the bytes as they come. */
export interface UnzipLimits {
  /** Bytes written out, all entries together. */
  readonly maxBytes: number;
  /** Bytes out per byte in, per entry, once an entry has written `ratioGraceBytes`. */
  readonly maxRatio: number;
  /** Below this many bytes written, an entry is not judged by its ratio (small files compress oddly). */
  readonly ratioGraceBytes: number;
  readonly maxEntries: number;
}

/**
 * A deflate stream expands at most about 1,030 times; real shapefiles (a .dbf padded with spaces is the
 * most compressible part) stay well under 100. 8 GiB is four times the largest file the bench loads.
 */
export const DEFAULT_UNZIP_LIMITS: UnzipLimits = {
  maxBytes: 8 * 1024 ** 3,
  maxRatio: 200,
  ratioGraceBytes: 1 << 20,
  maxEntries: 10_000,
};

/** Why a zip was refused; the message is for the person who sent it. */
export class UnsafeZipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeZipError';
  }
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
/** The upper 16 bits of a zip entry's external attributes hold a Unix mode when it was made on Unix. */
const isSymlink = (e: yauzl.Entry) => ((e.externalFileAttributes >>> 16) & S_IFMT) === S_IFLNK;

function close(zip: yauzl.ZipFile): void {
  if (zip.isOpen) zip.close();
}

/** Explains yauzl's refusals of entry names in the words of what they would have done. */
function nameProblem(message: string): string | undefined {
  const m = /^(absolute path|invalid relative path|invalid characters in fileName): (.*)$/.exec(message);
  if (!m) return undefined;
  if (m[1] === 'absolute path')
    return `entry "${m[2]}" has an absolute path: it would be written outside the folder it is unpacked to`;
  if (m[1] === 'invalid relative path')
    return `entry "${m[2]}" climbs out with "..": it would be written outside the folder it is unpacked to`;
  return `entry "${m[2]}" has a backslash in its name, which zip files must not use`;
}

/** Opens the archive, refusing what is no zip or holds more entries than allowed. */
async function openZip(zipPath: string, limits: UnzipLimits): Promise<yauzl.ZipFile> {
  // Loaded when a zip is opened, not at the start of every command.
  const { default: lib } = await import('yauzl');
  let zip: yauzl.ZipFile;
  try {
    zip = await lib.openPromise(zipPath, { lazyEntries: true, autoClose: true, strictFileNames: true });
  } catch (e) {
    throw new UnsafeZipError(`not a readable zip archive: ${(e as Error).message}`);
  }
  if (zip.entryCount > limits.maxEntries) {
    close(zip);
    throw new UnsafeZipError(
      `it holds ${zip.entryCount} entries, more than the ${limits.maxEntries} allowed`,
    );
  }
  return zip;
}

/**
 * Where an entry is to be written under `dest`, or undefined when it is not (a folder, or not wanted);
 * refuses a symbolic link (wanted or not), an encrypted entry, and one whose declared size passes the limit.
 */
function entryTarget(
  entry: yauzl.Entry,
  dest: string,
  wanted: (name: string) => boolean,
  total: number,
  limits: UnzipLimits,
): string | undefined {
  const name = entry.fileName;
  if (isSymlink(entry))
    throw new UnsafeZipError(`entry "${name}" is a symbolic link, which could point anywhere: refused`);
  if (name.endsWith('/')) return undefined;
  if (!wanted(name)) return undefined;
  if (entry.isEncrypted()) throw new UnsafeZipError(`entry "${name}" is encrypted`);
  if (total + entry.uncompressedSize > limits.maxBytes)
    throw new UnsafeZipError(
      `it unpacks to more than ${limits.maxBytes} bytes (entry "${name}" says ${entry.uncompressedSize})`,
    );
  const target = join(dest, ...name.split('/'));
  // yauzl has refused absolute and climbing names already; this holds even if that ever changed.
  if (relative(dest, target).split(sep).includes('..'))
    throw new UnsafeZipError(`entry "${name}" would land outside`);
  return target;
}

/** Passes an entry's inflated bytes on, counting them into `tally` and stopping at either limit. */
function countingBytes(
  name: string,
  compressed: number,
  tally: { total: number },
  limits: UnzipLimits,
): Transform {
  let entryBytes = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      entryBytes += chunk.length;
      tally.total += chunk.length;
      if (tally.total > limits.maxBytes)
        return done(
          new UnsafeZipError(
            `it unpacks to more than ${limits.maxBytes} bytes (stopped inside entry "${name}")`,
          ),
        );
      if (entryBytes > limits.ratioGraceBytes && entryBytes > compressed * limits.maxRatio)
        return done(
          new UnsafeZipError(
            `entry "${name}" expands more than ${limits.maxRatio} times (${compressed} bytes compressed, stopped at ${entryBytes}): a zip bomb?`,
          ),
        );
      done(null, chunk);
    },
  });
}

/** Inflates one entry into `target`, its bytes counted against the limits as they come. */
async function writeEntry(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  target: string,
  tally: { total: number },
  limits: UnzipLimits,
): Promise<void> {
  const name = entry.fileName;
  await mkdir(dirname(target), { recursive: true });
  try {
    // 'wx': two entries of one name do not overwrite each other.
    await pipeline(
      await zip.openReadStreamPromise(entry),
      countingBytes(name, entry.compressedSize, tally, limits),
      createWriteStream(target, { flags: 'wx' }),
    );
  } catch (e) {
    if (e instanceof UnsafeZipError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new UnsafeZipError(`it holds two entries named "${name}"`);
    throw new UnsafeZipError(`entry "${name}" cannot be unpacked: ${(e as Error).message}`);
  }
}

/**
 * Unpacks the entries of `zipPath` that `wanted` picks into `dest`, refusing the whole archive (by throwing
 * UnsafeZipError) on: names that are absolute or climb out with `..`, symbolic links, more entries or
 * bytes than the limits allow, and entries that expand by more than `maxRatio` — counted on the bytes as
 * they are inflated, so a header that lies about sizes is caught too. Entries not wanted are checked but
 * not written. The caller owns `dest` and removes it, whatever happens. Returns the paths written,
 * relative to `dest`, with `/` separators.
 */
export async function unzipSafely(
  zipPath: string,
  dest: string,
  wanted: (name: string) => boolean,
  limits: UnzipLimits = DEFAULT_UNZIP_LIMITS,
): Promise<string[]> {
  const zip = await openZip(zipPath, limits);
  const written: string[] = [];
  const tally = { total: 0 };
  try {
    for await (const entry of zip.eachEntry()) {
      const target = entryTarget(entry, dest, wanted, tally.total, limits);
      if (target === undefined) continue;
      await writeEntry(zip, entry, target, tally, limits);
      written.push(entry.fileName);
    }
  } catch (e) {
    close(zip);
    if (e instanceof UnsafeZipError) throw e;
    const explained = nameProblem((e as Error).message);
    throw new UnsafeZipError(explained ?? `not a readable zip archive: ${(e as Error).message}`);
  }
  return written;
}
