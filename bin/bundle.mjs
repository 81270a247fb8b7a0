// Bundles Strata's TypeScript entry points into dist/ with esbuild, and rebuilds them whenever one of their
// sources is newer than the bundle. The command line, the task image and the benchmark run these bundles:
// measured here, the GeoJSON load runs about 1.5× faster bundled than through tsx's loader, and the
// command line starts in half the time.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = join(ROOT, 'dist');

/**
 * Output name → source. The GeoJSON row worker must sit beside whatever bundle starts it: the loader finds
 * it at `./geojson-worker.mjs` relative to itself (in the sources, that is the tsx bootstrap).
 */
export const ENTRIES = {
  strata: 'bin/strata.ts',
  task: 'tasks/main.ts',
  'geojson-worker': 'runtime/load/geojson-worker.ts',
};

/** What a set of entries was last built from, for the freshness check; one record per set. */
const recordFile = (entries, outdir) => join(outdir, `.${Object.keys(entries).sort().join('+')}.inputs.json`);

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** True when every entry's bundle exists and no source it was built from has changed since. */
function fresh(entries, outdir) {
  let record;
  try {
    record = JSON.parse(readFileSync(recordFile(entries, outdir), 'utf8'));
  } catch {
    return false;
  }
  const names = Object.keys(entries);
  if (names.some((n) => record.entries[n] !== entries[n])) return false;
  if (names.some((n) => !Number.isFinite(mtime(join(outdir, `${n}.mjs`))))) return false;
  // The chunks the entries import, too: a bundle missing one fails at its first import.
  if ((record.outputs ?? []).some((f) => !Number.isFinite(mtime(join(outdir, f))))) return false;
  // Against the moment the build started: a source saved while esbuild was reading counts as newer.
  return record.inputs.every((f) => mtime(join(ROOT, f)) < record.startedAt);
}

/**
 * Builds the entries into `outdir` (default dist/) unless they are up to date, and returns the bundles'
 * paths by name. Files are written under temporary names and renamed, so processes that bundle at the same
 * moment never see half a file. Packages stay external: they resolve from the project's node_modules.
 */
export async function ensureBundle(entries = ENTRIES, outdir = DIST) {
  const paths = Object.fromEntries(Object.keys(entries).map((n) => [n, join(outdir, `${n}.mjs`)]));
  if (fresh(entries, outdir)) return paths;
  const { build } = await import('esbuild');
  const startedAt = Date.now();
  // Beside outdir, not inside it: at the same depth, the source maps' relative paths stay true once the files
  // are moved in.
  const staging = `${outdir}.staging-${process.pid}-${Date.now()}`;
  mkdirSync(outdir, { recursive: true });
  mkdirSync(staging, { recursive: true });
  try {
    const result = await build({
      absWorkingDir: ROOT,
      entryPoints: entries,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      packages: 'external',
      outdir: staging,
      outExtension: { '.js': '.mjs' },
      sourcemap: 'linked',
      metafile: true,
      logLevel: 'silent',
      // Code behind a dynamic import (strata serve, the HTTP application) goes into a chunk of its own, with
      // the packages it imports: a read command then starts without loading Hono and Hawk (a tenth of a second).
      splitting: true,
      // Chunks sit beside the entries: modules that find files relative to themselves (the GeoJSON row
      // worker) find them there whichever file they end up in.
      chunkNames: '[name]-[hash]',
    });
    const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules'));
    // Chunks first, then the entries that import them. A chunk's name is its content's hash, so one already
    // there is the same file; chunks of earlier builds stay, for processes still running those builds.
    const entryFiles = new Set(Object.keys(entries).flatMap((n) => [`${n}.mjs`, `${n}.mjs.map`]));
    const outputs = readdirSync(staging);
    for (const f of outputs) if (!entryFiles.has(f)) renameSync(join(staging, f), join(outdir, f));
    for (const n of Object.keys(entries)) {
      renameSync(join(staging, `${n}.mjs.map`), join(outdir, `${n}.mjs.map`));
      renameSync(join(staging, `${n}.mjs`), paths[n]);
    }
    const record = join(staging, 'inputs.json');
    writeFileSync(
      record,
      `${JSON.stringify({ entries, startedAt, inputs: inputs.sort(), outputs: outputs.sort() }, null, 2)}\n`,
    );
    renameSync(record, recordFile(entries, outdir));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return paths;
}

// `node bin/bundle.mjs`: build the bundles now (the task image does this).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const paths = await ensureBundle();
  for (const p of Object.values(paths)) process.stdout.write(`${relative(ROOT, p)}\n`);
}
