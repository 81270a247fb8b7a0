import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { writeDataDir } from '../../runtime/adapters/local/pglite-data-dir.ts';
import { PgliteDatabase } from '../../runtime/adapters/local/pglite-database.ts';
import { imageName, preparedImage } from '../../runtime/adapters/local/pglite-image.ts';
import { trimPostgisBundle } from '../../runtime/adapters/local/pglite-postgis.ts';
import { databaseIdentity, dataDirSystemIdentifier } from '../../runtime/db/identity.ts';
import { type Migration, migrationsFrom, readMigrations } from '../../runtime/db/migrate.ts';
import { tarEntries } from '../../runtime/util/tar.ts';
import { userCacheDir } from '../../runtime/util/user-cache.ts';

const run = promisify(execFile);
const dirs: string[] = [];
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'strata-image-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('the prepared image of the embedded database', () => {
  it('makes each new home a database of its own, with PostGIS and every migration applied', async () => {
    // Prepare: two new homes (the image was made by the global setup).
    const root = await tempDir();
    const image = () => preparedImage();

    // Act
    const ids: string[] = [];
    for (const home of ['a', 'b']) {
      const db = await PgliteDatabase.open(join(root, home, 'pglite'), { image });
      try {
        const identity = await databaseIdentity(db);
        // Assess: the identity SQL reports is the one in the control file, read without starting it.
        ids.push(identity.systemIdentifier);
        const [row] = await db.query<{ migrations: number; point: string }>(
          `SELECT (SELECT count(*)::int FROM public.strata_migrations) AS migrations,
             ST_AsText(ST_SnapToGrid(ST_Transform(ST_SetSRID(ST_Point(1, 2), 4326), 3857), 1)) AS point`,
        );
        expect(row).toEqual({ migrations: (await readMigrations()).length, point: 'POINT(111319 222684)' });
      } finally {
        await db.close();
      }
      expect(await dataDirSystemIdentifier(join(root, home, 'pglite'))).toBe(ids.at(-1));
    }
    // Two databases from one image are two databases, as two initdb runs would be.
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('is named by what it was made from: another migration, or an edited one, names another image', async () => {
    const migrations = await readMigrations();
    const last = migrations.at(-1)!;
    const added = [...migrations, ...migrationsFrom([{ name: '999_more.sql', sql: 'SELECT 1;' }])];
    const edited = [...migrations.slice(0, -1), { ...last, checksum: '0'.repeat(64) }];

    const names = new Set([
      await imageName({ migrations }),
      await imageName({ migrations: added }),
      await imageName({ migrations: edited }),
    ]);

    expect(names.size).toBe(3);
    expect(await imageName()).toBe(await imageName({ migrations }));
  });

  it('writes a home’s data directory whole, replacing what an interrupted first run left, or not at all', async () => {
    // Prepare: leftovers of an interrupted first run, and an image cut short.
    const root = await tempDir();
    const dataDir = join(root, 'pglite');
    await writeDataDir(new Uint8Array(1024), dataDir);
    await writeFile(join(dataDir, 'leftover'), 'x');
    const tar = await preparedImage();

    // Act and assess: the cut one is refused and leaves nothing; the whole one replaces the leftovers.
    await expect(writeDataDir(tar.subarray(0, 100_000), join(root, 'cut'))).rejects.toThrow(/cut short/);
    await writeDataDir(tar, dataDir);
    expect((await readdir(root)).sort()).toEqual(['pglite']);
    const files = await readdir(dataDir);
    expect(files).toContain('PG_VERSION');
    expect(files).not.toContain('leftover');
  });
});

/**
 * A cache of its own, with the trimmed PostGIS bundle copied in (so only the image is made here, 10–25 s),
 * holding `image` under the name the image of `migrations` has.
 */
async function cacheHolding(image: Uint8Array, migrations: Migration[]) {
  const cacheDir = await tempDir();
  for (const f of await readdir(userCacheDir()))
    if (f.startsWith('postgis-')) await copyFile(join(userCacheDir(), f), join(cacheDir, f));
  const path = join(cacheDir, await imageName({ cacheDir, migrations }));
  await writeFile(path, image);
  return { cacheDir, path };
}

const pgVersion = (tar: Uint8Array) => {
  const e = [...tarEntries(tar)].find((x) => x.name === 'PG_VERSION')!;
  return Buffer.from(tar.subarray(e.dataOffset, e.dataOffset + e.size))
    .toString()
    .trim();
};

/** `test/helpers/image-child.ts` in a process of its own: what it printed. */
async function inChild(...args: string[]): Promise<Record<string, unknown>> {
  const script = fileURLToPath(new URL('../helpers/image-child.ts', import.meta.url));
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script, ...args], {
    timeout: 300_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

describe('a damaged prepared image in the cache', () => {
  it('is removed and made again when it is cut short; refused again, it says which file is no good', async () => {
    // Prepare: the first half of a whole image, as a full disk or an interrupted copy leaves it, under the
    // name of the image with one more migration (so nothing of this file's shared image is looked at).
    const migrations = [
      ...(await readMigrations()),
      ...migrationsFrom([{ name: '999_more.sql', sql: 'SELECT 1;' }]),
    ];
    const whole = await readFile(join(userCacheDir(), await imageName()));
    const { cacheDir, path } = await cacheHolding(whole.subarray(0, whole.length >> 1), migrations);

    // Act
    const out = await inChild('image', cacheDir, 'more');

    // Assess: a whole image, a whole file in its place, and once made again, a refusal names the file.
    const tar = gunzipSync(await readFile(path));
    expect(pgVersion(tar)).toMatch(/^\d+$/);
    expect(out).toEqual({
      first: { bytes: tar.length },
      again: {
        error: 'PreparedImageError',
        message: expect.stringContaining(
          `the prepared database image ${path} was made again and is still no good (would not load)`,
        ),
      },
    });
  });

  it('is made again when a new home made from it will not load, and the home is made from the new one', async () => {
    // Prepare: an image that reads whole but whose database PostgreSQL refuses (another major version).
    const migrations = await readMigrations();
    const tar = new Uint8Array(await preparedImage());
    const version = [...tarEntries(tar)].find((e) => e.name === 'PG_VERSION')!;
    tar.set(Buffer.from('99'), version.dataOffset);
    const { cacheDir, path } = await cacheHolding(gzipSync(tar), migrations);
    const home = join(await tempDir(), 'pglite');

    // Act
    const out = await inChild('home', cacheDir, home);

    // Assess: the home works, and the cached image is a sound one now.
    expect(out).toEqual({ migrations: migrations.length });
    expect(pgVersion(gunzipSync(await readFile(path)))).not.toBe('99');
  });
});

describe('the trimmed PostGIS bundle', () => {
  it('keeps the postgis library, PROJ data and the extension’s install files, and none of the others', async () => {
    const { postgis } = await import('@electric-sql/pglite-postgis');
    const { bundlePath } = await postgis.setup({} as never, { PGLITE_ENV: {} });

    const trimmed = [...tarEntries(gunzipSync(trimPostgisBundle(await readFile(bundlePath))))].map(
      (e) => e.name,
    );

    expect(trimmed).toContain('lib/postgresql/postgis-3.so');
    expect(trimmed).toContain('share/proj/proj.db');
    expect(trimmed).toContain('share/postgresql/extension/postgis.control');
    expect(trimmed.filter((n) => n.endsWith('.sql'))).toEqual([
      expect.stringMatching(/^share\/postgresql\/extension\/postgis--[\d.]+\.sql$/),
    ]);
    expect(trimmed.filter((n) => /raster|topology/.test(n))).toEqual([]);
  });
});
