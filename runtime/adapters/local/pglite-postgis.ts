import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Extension, PGliteInterface } from '@electric-sql/pglite';
import { TAR_END, tarEntries } from '../../util/tar.ts';
import { cachedFile, userCacheDir } from '../../util/user-cache.ts';

/**
 * What the `postgis` extension needs once the platform has created it: its library, PROJ's data for
 * `ST_Transform`, and its control file and install script. PGlite unpacks an extension's whole bundle and
 * compiles every library in it at each start; the package's bundle also holds the raster and topology
 * libraries and some 500 upgrade scripts, nearly three times the bytes. Measured on this project's machine
 * kind, starting from the trimmed bundle takes about a third less CPU and 300 MB less memory.
 */
const NEEDED = [
  /^lib\/postgresql\/postgis-\d+\.so$/,
  /^share\/proj\//,
  /^share\/postgresql\/extension\/postgis(\.control|--[\d.]+\.sql)$/,
];

/** Bumped when `NEEDED` changes, so a cached bundle made by the old rule is not used. */
const TRIM_FORMAT = 1;

/** The package's bundle, with only the files `NEEDED` names. */
export function trimPostgisBundle(bundle: Uint8Array): Uint8Array {
  const kept: Uint8Array[] = [];
  for (const entry of tarEntries(gunzipSync(bundle)))
    if (entry.type === 'file' && NEEDED.some((re) => re.test(entry.name))) kept.push(entry.raw);
  return gzipSync(Buffer.concat([...kept, TAR_END]), { level: 1 });
}

const require = createRequire(import.meta.url);

/** The version of the installed package whose file this is: the nearest package.json above it. */
export async function packageVersionOf(file: string): Promise<string> {
  let dir = dirname(file);
  for (;;) {
    try {
      return (JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    } catch (e) {
      const up = dirname(dir);
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || up === dir) throw e;
      dir = up;
    }
  }
}

export interface PgliteVersions {
  readonly pglite: string;
  readonly postgis: string;
}

const loaded = new Map<string, Promise<{ extension: Extension; versions: PgliteVersions }>>();

async function load(cacheDir: string): Promise<{ extension: Extension; versions: PgliteVersions }> {
  const { postgis } = await import('@electric-sql/pglite-postgis');
  // The package says where its bundle is from its setup, which only reads the options it is given.
  const { bundlePath } = await postgis.setup({} as PGliteInterface, { PGLITE_ENV: {} });
  const original = fileURLToPath(bundlePath);
  const versions = {
    pglite: await packageVersionOf(require.resolve('@electric-sql/pglite')),
    postgis: await packageVersionOf(original),
  };
  const trimmed = await cachedFile(
    cacheDir,
    `postgis-${versions.postgis}-trimmed-${TRIM_FORMAT}.tar.gz`,
    async () => trimPostgisBundle(await readFile(original)),
  );
  // Where the cache cannot be written, the package's own bundle: slower to start, the same extension.
  const bundle = trimmed.path ? pathToFileURL(trimmed.path) : bundlePath;
  const extension: Extension = {
    name: postgis.name,
    setup: async (pg, emscriptenOpts) => ({
      ...(await postgis.setup(pg, emscriptenOpts)),
      bundlePath: bundle,
    }),
  };
  return { extension, versions };
}

/** PostGIS for PGlite, from the trimmed bundle in the user's cache (made there at first use). */
export function postgisExtension(cacheDir = userCacheDir()): Promise<{
  extension: Extension;
  versions: PgliteVersions;
}> {
  let found = loaded.get(cacheDir);
  if (!found) {
    found = load(cacheDir).catch((e) => {
      loaded.delete(cacheDir);
      throw e;
    });
    loaded.set(cacheDir, found);
  }
  return found;
}
