import type { FileHandle } from 'node:fs/promises';
import type { Body } from '../ports/object-store.ts';

const WRITE_BATCH = 1 << 20;

/** Writes every byte of `chunks` at `position`: writev may write less than asked. */
export async function writeAll(fh: FileHandle, chunks: Uint8Array[], position: number): Promise<void> {
  let rest = chunks;
  let at = position;
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest, at);
    if (bytesWritten === 0 && rest.some((c) => c.length > 0)) throw new Error('the file took no bytes');
    at += bytesWritten;
    let skip = bytesWritten;
    const left: Uint8Array[] = [];
    for (const c of rest) {
      if (skip >= c.length) skip -= c.length;
      else {
        left.push(skip > 0 ? c.subarray(skip) : c);
        skip = 0;
      }
    }
    rest = left;
  }
}

/**
 * Streams a body into an open file in batches of about 1 MiB, one batch written while the next is read:
 * measured on a 80 MB export, a third less CPU than piping into a write stream, whose 16 KiB buffer makes a
 * round trip through the thread pool for every chunk.
 */
export async function writeBody(fh: FileHandle, body: Body): Promise<number> {
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    await writeAll(fh, [bytes], 0);
    return bytes.length;
  }
  let size = 0;
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  let writing: Promise<void> = Promise.resolve();
  try {
    for await (const chunk of body) {
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes >= WRITE_BATCH) {
        await writing;
        writing = writeAll(fh, batch, size);
        // Handled here, awaited later: a write that fails while the next batch is read is not unhandled.
        writing.catch(() => {});
        size += batchBytes;
        batch = [];
        batchBytes = 0;
      }
    }
  } catch (e) {
    // The body failed: let the write in flight settle before the caller closes the file.
    await writing.catch(() => {});
    throw e;
  }
  await writing;
  await writeAll(fh, batch, size);
  return size + batchBytes;
}
