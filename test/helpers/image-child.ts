import { PgliteDatabase } from '../../runtime/adapters/local/pglite-database.ts';
import { preparedImage } from '../../runtime/adapters/local/pglite-image.ts';
import { migrationsFrom, readMigrations } from '../../runtime/db/migrate.ts';

/**
 * Run by `test/integration/pglite-image.test.ts` in a process of its own (`node --import tsx`), as the
 * command line runs: making an image inside a vitest fork worker loses the worker (it ends while PGlite
 * runs initdb, and vitest waits for it forever), while the same code in a plain process takes 30–50 s.
 *
 * `image <cacheDir> [more]`: the prepared image in that cache (with one more migration when asked), then
 * the same again told the first was refused; prints what each gave as JSON.
 * `home <cacheDir> <dataDir>`: opens a new home there from that cache's image; prints its migrations.
 */
const [mode, cacheDir, arg] = process.argv.slice(2);
const more = migrationsFrom([{ name: '999_more.sql', sql: 'SELECT 1;' }]);
const migrations = [...(await readMigrations()), ...(arg === 'more' ? more : [])];
const outcome = (p: Promise<Uint8Array>) =>
  p.then(
    (tar) => ({ bytes: tar.length }),
    (e: Error) => ({ error: e.name, message: e.message }),
  );

if (mode === 'image') {
  const first = await outcome(preparedImage({ cacheDir, migrations }));
  const again = await outcome(preparedImage({ cacheDir, migrations, refused: new Error('would not load') }));
  console.log(JSON.stringify({ first, again }));
} else if (mode === 'home') {
  const db = await PgliteDatabase.open(arg, {
    cacheDir,
    image: (again) => preparedImage({ cacheDir, migrations, ...again }),
  });
  const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM public.strata_migrations');
  await db.close();
  console.log(JSON.stringify({ migrations: row?.n }));
} else throw new Error(`usage: image-child.ts image|home <cacheDir> [more|dataDir], got: ${mode}`);
