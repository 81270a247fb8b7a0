import { createHash, type Hash } from 'node:crypto';

/** Size and sha256 of bytes seen once, as they stream past. */
export interface Measure {
  size: number;
  readonly hash: Hash;
}

export const newMeasure = (): Measure => ({ size: 0, hash: createHash('sha256') });

/** Passes `source` through unchanged, measuring it: nothing is read twice to be hashed. */
export async function* measured(source: AsyncIterable<Uint8Array>, m: Measure): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    m.size += chunk.length;
    m.hash.update(chunk);
    yield chunk as Buffer;
  }
}

/** Reads `source` to the end: its size and sha256 (hex). */
export async function sha256Of(source: AsyncIterable<Uint8Array>): Promise<{ sha256: string; size: number }> {
  const m = newMeasure();
  for await (const _ of measured(source, m));
  return { sha256: m.hash.digest('hex'), size: m.size };
}
