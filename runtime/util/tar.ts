/**
 * Reading the ustar archives PGlite writes and its extensions ship: each entry is a 512-byte header and its
 * data padded to 512 bytes, so an entry can be copied, patched or written out as it lies in the buffer.
 */
export interface TarEntry {
  /** The path inside the archive, without a leading `/` (PGlite's dumps start names with one). */
  readonly name: string;
  readonly type: 'file' | 'directory' | 'symlink' | 'other';
  readonly mode: number;
  /** Where its data starts in the archive, and how many bytes it has. */
  readonly dataOffset: number;
  readonly size: number;
  /** The header and the padded data, as they lie in the archive. */
  readonly raw: Uint8Array;
}

const BLOCK = 512;

const field = (header: Uint8Array, start: number, length: number): string => {
  const bytes = header.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return Buffer.from(end < 0 ? bytes : bytes.subarray(0, end)).toString('utf8');
};

const octal = (header: Uint8Array, start: number, length: number): number => {
  const text = field(header, start, length).trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
};

const TYPES: Record<string, TarEntry['type']> = {
  '0': 'file',
  '\0': 'file',
  '5': 'directory',
  '2': 'symlink',
};

/** The entries of an uncompressed tar archive, in order; an archive cut short (anywhere) is an error. */
export function* tarEntries(tar: Uint8Array): Generator<TarEntry> {
  let offset = 0;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) return;
    const prefix = field(header, 345, 155);
    const name = (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100)).replace(/^\/+/, '');
    const size = octal(header, 124, 12);
    const end = offset + BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (end > tar.length) throw new Error(`tar archive cut short in ${name}`);
    yield {
      name,
      type: TYPES[String.fromCharCode(header[156]!)] ?? 'other',
      mode: octal(header, 100, 8),
      dataOffset: offset + BLOCK,
      size,
      raw: tar.subarray(offset, end),
    };
    offset = end;
  }
  throw new Error('tar archive cut short: it has no end-of-archive block');
}

/** The two zero blocks that end an archive. */
export const TAR_END = new Uint8Array(2 * BLOCK);
