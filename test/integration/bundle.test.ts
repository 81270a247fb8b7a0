import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ENTRIES, ensureBundle, ROOT } from '../../bin/bundle.mjs';
import { readMigrations } from '../../runtime/db/migrate.ts';

const run = promisify(execFile);
const dirs: string[] = [];
const temp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'strata-bundle-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('bundles', () => {
  it('start the GeoJSON row worker from beside themselves and find the package files', async () => {
    // Inside the project, as dist/ is: packages resolve from its node_modules.
    const out = join(ROOT, 'node_modules', '.cache', `strata-bundle-test-${process.pid}`);
    dirs.push(out);
    const paths = await ensureBundle(
      { probe: 'test/fixtures/bundle-probe.ts', 'geojson-worker': ENTRIES['geojson-worker']! },
      out,
    );
    const { stdout } = await run('node', [paths.probe!]);
    const result = JSON.parse(stdout) as { rows: string; migrations: string[] };
    // COPY text: the backslash doubled; the point as hex EWKB; no geometry as \N.
    expect(result.rows).toBe('a\\\\b\t0101000020e6100000000000000000f03f0000000000000040\nc\t\\N\n');
    expect(result.migrations).toEqual((await readMigrations()).map((m) => m.name));
  });

  it('keep strata serve and the HTTP application out of what a read command loads, and the row worker beside every chunk', async () => {
    // Prepare + act: the real entries, built apart from dist/.
    const out = join(ROOT, 'node_modules', '.cache', `strata-bundle-test-${process.pid}-c`);
    dirs.push(out);
    const paths = await ensureBundle(ENTRIES, out);

    // Assess 1: the packages the command line loads at start, following its static imports through chunks.
    const loaded = new Set<string>();
    const seen = new Set<string>();
    const visit = async (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/^import\s[^;]*?from\s*"([^"]+)";/gms)) {
        const spec = m[1]!;
        if (spec.startsWith('./')) await visit(join(out, spec));
        else loaded.add(spec);
      }
    };
    await visit(paths.strata!);
    expect([...loaded].filter((p) => /hono|hawk|aws-sdk|hyparquet|yauzl|yazl|gdal3/.test(p))).toEqual([]);
    expect(loaded.has('commander')).toBe(true);

    // Assess 2: whichever file the GeoJSON pool ends up in finds its worker beside it.
    const files = (await readdir(out)).filter((f) => f.endsWith('.mjs'));
    const starters = [];
    for (const f of files)
      if ((await readFile(join(out, f), 'utf8')).includes('"./geojson-worker.mjs"')) starters.push(f);
    expect(starters.length).toBeGreaterThan(0);
    expect(files).toContain('geojson-worker.mjs');
  });

  it('are rebuilt when a source they were built from changes, and only then', async () => {
    const src = await temp();
    const out = join(ROOT, 'node_modules', '.cache', `strata-bundle-test-${process.pid}-b`);
    dirs.push(out);
    await writeFile(join(src, 'main.ts'), "import { word } from './word.ts';\nconsole.log(word);\n");
    await writeFile(join(src, 'word.ts'), "export const word: string = 'one';\n");
    const past = new Date(Date.now() - 10_000);
    for (const f of ['main.ts', 'word.ts']) await utimes(join(src, f), past, past);
    const entries = { main: join(src, 'main.ts') };
    const first = await ensureBundle(entries, out);
    expect((await run('node', [first.main!])).stdout).toBe('one\n');
    const built = (await stat(first.main!)).mtimeMs;

    await ensureBundle(entries, out);
    expect((await stat(first.main!)).mtimeMs).toBe(built);

    await writeFile(join(src, 'word.ts'), "export const word: string = 'two';\n");
    await ensureBundle(entries, out);
    expect((await run('node', [first.main!])).stdout).toBe('two\n');
    const record = JSON.parse(await readFile(join(out, '.main.inputs.json'), 'utf8')) as { inputs: string[] };
    expect(record.inputs.some((f) => f.endsWith('word.ts'))).toBe(true);
  });
});
