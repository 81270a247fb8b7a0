import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type Migration, migrate, readMigrations } from '../../db/migrate.ts';
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

/**
 * The image as an uncompressed tar archive, made and cached first if it is not there. Shared: copy it
 * before changing it (`PgliteDatabase.open` does).
 */
export async function preparedImage(options: ImageOptions = {}): Promise<Uint8Array> {
  const cacheDir = options.cacheDir ?? userCacheDir();
  const migrations = options.migrations ?? (await readMigrations());
  const name = await imageName({ cacheDir, migrations });
  const key = join(cacheDir, name);
  let found = images.get(key);
  if (!found) {
    found = (async () => {
      const { path, made } = await cachedFile(cacheDir, name, () => makeImage(migrations, cacheDir));
      return gunzipSync(made ?? (await readFile(path!)));
    })().catch((e) => {
      images.delete(key);
      throw e;
    });
    images.set(key, found);
  }
  return found;
}
