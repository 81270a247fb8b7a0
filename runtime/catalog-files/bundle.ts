import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { z } from 'zod';
import { CatalogError } from '../errors.ts';
import { type Catalog, loadCatalogOrThrow } from './loader.ts';

/**
 * A catalog as one object: every file under its directory (dot-files aside), as text, in key order. The same
 * files always make the same bytes, so the sha256 of a pack names a catalog: the child stack deploys the
 * pack with that hash, tasks and Lambdas check it when they read it, and every run records it.
 */
export const CatalogPack = z.strictObject({
  format: z.literal('strata-catalog/1'),
  files: z.record(z.string(), z.string()),
});
export type CatalogPack = z.infer<typeof CatalogPack>;

/** A catalog of more than this is not a catalog: data belongs in the ingress bucket. */
export const MAX_PACK_BYTES = 8 * 1024 * 1024;

function walk(root: string, dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) walk(root, path, out);
    else if (e.isFile()) out.push(relative(root, path).split(sep).join('/'));
  }
}

function issue(file: string, message: string): CatalogError {
  return new CatalogError([{ file, path: '', message }]);
}

/** Packs the catalog directory `dir`: its bytes and their sha256. */
export function packCatalog(dir: string): { bytes: Buffer; sha256: string; files: number } {
  const keys: string[] = [];
  try {
    walk(dir, dir, keys);
  } catch {
    throw issue(dir, 'catalog directory not found');
  }
  keys.sort();
  const files: Record<string, string> = {};
  for (const key of keys) {
    const raw = readFileSync(join(dir, ...key.split('/')));
    const text = raw.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(raw)) throw issue(key, 'is not UTF-8 text');
    files[key] = text;
  }
  const pack: CatalogPack = { format: 'strata-catalog/1', files };
  const bytes = Buffer.from(`${JSON.stringify(pack)}\n`, 'utf8');
  if (bytes.length > MAX_PACK_BYTES)
    throw issue(
      dir,
      `the catalog is ${bytes.length} bytes packed, over ${MAX_PACK_BYTES}; keep data out of it`,
    );
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), files: keys.length };
}

export class CatalogHashError extends Error {
  constructor(expected: string, actual: string, where: string) {
    super(`the catalog at ${where} has sha256 ${actual}, not the ${expected} this deployment expects`);
    this.name = 'CatalogHashError';
  }
}

/**
 * Checks a pack's bytes against the sha256 the stack recorded, writes its files under a new directory and
 * loads the catalog from there.
 */
export async function unpackCatalog(bytes: Buffer, expectedSha256: string, where: string): Promise<Catalog> {
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== expectedSha256) throw new CatalogHashError(expectedSha256, actual, where);
  const pack = CatalogPack.parse(JSON.parse(bytes.toString('utf8')));
  const dir = await mkdtemp(join(tmpdir(), 'strata-catalog-'));
  for (const [key, text] of Object.entries(pack.files)) {
    if (key.startsWith('/') || key.split('/').some((p) => p === '..' || p === '' || p === '.'))
      throw new Error(`the catalog pack at ${where} holds a bad file name: ${key}`);
    const path = join(dir, ...key.split('/'));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  return { ...(await loadCatalogOrThrow(dir)), sha256: actual };
}

/** Loads a catalog directory and records what it hashes to. */
export async function openCatalog(dir: string): Promise<Catalog> {
  const catalog = await loadCatalogOrThrow(dir);
  return { ...catalog, sha256: packCatalog(dir).sha256 };
}
