import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { crc32c } from '../../util/crc32c.ts';
import { type TarEntry, tarEntries } from '../../util/tar.ts';

/**
 * A PostgreSQL data directory as a tar archive (what PGlite's `dumpDataDir` writes): how a database made from
 * a prepared image gets an identity of its own, and how it is written out as a home's data directory.
 */

const CONTROL_FILE = 'global/pg_control';
const WAL_SEGMENT = /^pg_wal\/[0-9A-F]{24}$/;
/** `XLP_LONG_HEADER`: the flag of a WAL segment's first page, whose header carries the system identifier. */
const XLP_LONG_HEADER = 0x0002;
/** `xlp_sysid` in that header: after the 24 bytes of the short page header (20 bytes, 8-aligned). */
const WAL_SYSID_OFFSET = 24;

/**
 * A new system identifier as initdb makes one (seconds since the epoch in the high half), with random bits
 * in the low half: its top bit stays clear, so SQL's signed `bigint` and the control file read the same.
 */
function newSystemIdentifier(): bigint {
  return (BigInt(Math.floor(Date.now() / 1000)) << 32n) | BigInt(randomBytes(4).readUInt32LE(0));
}

/**
 * Where the control file's CRC-32C sits: its struct ends with the checksum of every byte before it. Found by
 * looking rather than from a PostgreSQL version's layout; there is exactly one such place in a sound file.
 */
function controlChecksumOffset(control: Uint8Array): number {
  const view = Buffer.from(control.buffer, control.byteOffset, control.length);
  const found: number[] = [];
  for (let at = 8; at + 4 <= Math.min(control.length, 1024); at += 4)
    if (crc32c(control.subarray(0, at)) === view.readUInt32LE(at)) found.push(at);
  if (found.length !== 1)
    throw new Error(`the prepared image's ${CONTROL_FILE} has ${found.length} checksums, expected one`);
  return found[0]!;
}

/**
 * A copy of the data directory `tar` with a system identifier of its own, in its control file and in the
 * header of each WAL segment that carries the old one (PostgreSQL refuses WAL from another system). Every
 * database made from one image would otherwise share the image's identifier, and Strata names a database
 * by it (`runtime/db/identity.ts`): a home made again would pass for the one it replaced.
 */
export function withOwnSystemIdentifier(tar: Uint8Array): { tar: Uint8Array; systemIdentifier: string } {
  const copy = new Uint8Array(tar);
  const view = Buffer.from(copy.buffer, copy.byteOffset, copy.length);
  const entries = [...tarEntries(copy)];
  const control = entries.find((e) => e.name === CONTROL_FILE);
  if (!control) throw new Error(`the prepared image has no ${CONTROL_FILE}`);
  const old = view.readBigUInt64LE(control.dataOffset);
  const id = newSystemIdentifier();
  const controlBytes = copy.subarray(control.dataOffset, control.dataOffset + control.size);
  const crcAt = controlChecksumOffset(controlBytes);
  view.writeBigUInt64LE(id, control.dataOffset);
  view.writeUInt32LE(crc32c(controlBytes.subarray(0, crcAt)), control.dataOffset + crcAt);
  for (const e of entries) {
    if (!WAL_SEGMENT.test(e.name) || e.size < WAL_SYSID_OFFSET + 8) continue;
    const long = (view.readUInt16LE(e.dataOffset + 2) & XLP_LONG_HEADER) !== 0;
    if (long && view.readBigUInt64LE(e.dataOffset + WAL_SYSID_OFFSET) === old)
      view.writeBigUInt64LE(id, e.dataOffset + WAL_SYSID_OFFSET);
  }
  return { tar: copy, systemIdentifier: id.toString() };
}

function safePath(dir: string, entry: TarEntry): string {
  const path = normalize(entry.name);
  if (path.startsWith('..') || path.startsWith('/'))
    throw new Error(`the prepared image names a file outside its directory: ${entry.name}`);
  return join(dir, path);
}

/**
 * Writes the data directory `tar` to `dir`, whole or not at all: into a directory beside it, renamed into
 * place once every file is written, so an interrupted first run leaves no half database to open next time.
 * Whatever is at `dir` is replaced (it holds no database: the caller found no PG_VERSION there).
 */
export async function writeDataDir(tar: Uint8Array, dir: string): Promise<void> {
  const staging = `${dir}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await mkdir(staging, { recursive: true, mode: 0o700 });
    for (const entry of tarEntries(tar)) {
      const path = safePath(staging, entry);
      if (entry.type === 'directory') await mkdir(path, { recursive: true, mode: 0o700 });
      else if (entry.type === 'file') {
        await mkdir(dirname(path), { recursive: true, mode: 0o700 });
        await writeFile(path, tar.subarray(entry.dataOffset, entry.dataOffset + entry.size), { mode: 0o600 });
      } else throw new Error(`the prepared image holds a ${entry.type} (${entry.name}); expected files only`);
    }
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
}
