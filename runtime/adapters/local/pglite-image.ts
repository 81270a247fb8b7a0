import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type Migration, migrate, readMigrations } from '../../db/migrate.ts';
import { tarEntries } from '../../util/tar.ts';
import { cachedFile, userCacheDir } from '../../util/user-cache.ts';
import { PgliteDatabase } from './pglite-database.ts';
import { postgisExtension } from './pglite-postgis.ts';

/**
 * The prepared image: an embedded database with PostGIS created and every migration applied, dumped once
 * per installed version into the user's cache, so a new database is a copy of it instead of initdb,
 * `CREATE EXTENSION postgis` and the migrations (10–25 s on this project's machine kind, each time).
 *
 * Its name holds what it was made from: PGlite's and PostGIS's versions and a hash of the migrations. A new
 * migration, an edited one or another PGlite makes another name, so an image is never used for code it was
 * not made by; the migrations still run after it is loaded, and find nothing to do.
 */

/** Bumped when what goes into an image changes in a way its name does not show. */
const IMAGE_FORMAT = 1;

export interface ImageOptions {
  /** @default the user's cache directory (`$XDG_CACHE_HOME/strata` or `~/.cache/strata`) */
  readonly cacheDir?: string;
  /** @default the platform's own, in `sql/` */
  readonly migrations?: Migration[];
  /**
   * Why the image given before was no good (a database made from it would not load): the cached one is
   * removed and made again, once. A second refusal is an error.
   */
  readonly refused?: unknown;
}

/** A cached image that cannot be used: damaged (cut short by a full disk or a copy, or not an image at all). */
export class PreparedImageError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'PreparedImageError';
  }
}

/** The image's file name in the cache. */
export async function imageName(options: ImageOptions = {}): Promise<string> {
  const { versions } = await postgisExtension(options.cacheDir ?? userCacheDir());
  const migrations = options.migrations ?? (await readMigrations());
  const hash = createHash('sha256')
    .update(JSON.stringify({ format: IMAGE_FORMAT, migrations: migrations.map((m) => [m.name, m.checksum]) }))
    .digest('hex')
    .slice(0, 16);
  return `pglite-${versions.pglite}-postgis-${versions.postgis}-${hash}.tar.gz`;
}

/** True when the image this version needs is in the cache already (a new database is then quick). */
export async function imageCached(options: ImageOptions = {}): Promise<boolean> {
  return existsSync(join(options.cacheDir ?? userCacheDir(), await imageName(options)));
}

/** Initdb, PostGIS and the migrations, in memory, dumped. */
async function makeImage(migrations: Migration[], cacheDir: string): Promise<Uint8Array> {
  const db = await PgliteDatabase.open(undefined, { cacheDir });
  try {
    await migrate(db, migrations);
    return await db.dumpDataDir();
  } finally {
    await db.close();
  }
}

/** Uncompressed, by cache file: a process opening many databases (a test file) reads it once. */
const images = new Map<string, Promise<Uint8Array>>();
/** Cache files this process has made again already: a second failure is not met with a third try. */
const remade = new Set<string>();

/** The gzipped image as a data directory's tar, or why it is not one (checked whole, end to end). */
function unpack(gzipped: Uint8Array): Uint8Array {
  const tar = gunzipSync(gzipped);
  const names = new Set<string>();
  for (const entry of tarEntries(tar)) names.add(entry.name);
  for (const needed of ['PG_VERSION', 'global/pg_control'])
    if (!names.has(needed)) throw new Error(`it holds no ${needed}`);
  return tar;
}

/**
 * The image in the cache, made when it is not there. A cached one that cannot be read whole (or whose
 * database would not load, `refused`) is removed and made again, once per process: a full disk or an
 * interrupted copy must not fail every run until someone finds the file.
 */
async function readOrMake(cacheDir: string, name: string, migrations: Migration[], refused: unknown) {
  const path = join(cacheDir, name);
  const make = () => makeImage(migrations, cacheDir);
  let why = refused;
  if (why === undefined) {
    const { path: cached, made } = await cachedFile(cacheDir, name, make);
    if (made) return unpack(made);
    try {
      return unpack(await readFile(cached!));
    } catch (e) {
      why = e;
    }
  }
  if (remade.has(path))
    throw new PreparedImageError(
      `the prepared database image ${path} was made again and is still no good (${(why as Error)?.message ?? why}); remove it and look at the disk it is on`,
      why,
    );
  remade.add(path);
  await rm(path, { force: true });
  const again = await cachedFile(cacheDir, name, make);
  try {
    // Another process may have made it between the removal and now: then it is read from the cache.
    return unpack(again.made ?? (await readFile(again.path!)));
  } catch (e) {
    throw new PreparedImageError(
      `the prepared database image ${path} was made again and cannot be read: ${(e as Error).message}`,
      e,
    );
  }
}

/**
 * The image as an uncompressed tar archive, made and cached first if it is not there. Shared: copy it
 * before changing it (`PgliteDatabase.open` does). With `refused`, the one given before is made again.
 */
export async function preparedImage(options: ImageOptions = {}): Promise<Uint8Array> {
  const cacheDir = options.cacheDir ?? userCacheDir();
  const migrations = options.migrations ?? (await readMigrations());
  const name = await imageName({ cacheDir, migrations });
  const key = join(cacheDir, name);
  let found = options.refused === undefined ? images.get(key) : undefined;
  if (!found) {
    found = readOrMake(cacheDir, name, migrations, options.refused).catch((e) => {
      images.delete(key);
      throw e;
    });
    images.set(key, found);
  }
  return found;
}
