// `npm run bench:reads`: how long the read commands take cold (a new process each, as a person types them)
// on the embedded database, beside `node -e ''` (the floor: a Node process that does nothing). Each answer
// path is timed on its own: the archive and egress files, a running `strata serve`, and the database.
// Prints the medians and their ratios to the floor; writes bench/out/reads.json.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBundle, ROOT } from '../bin/bundle.mjs';
import { timed } from './spawn.ts';

const OUT = fileURLToPath(new URL('./out/', import.meta.url));
/** Cold runs of each command; the median is reported. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** What the issue asks of a read the files or a serve can answer. */
const TARGET_SECONDS = 0.5;

const env: NodeJS.ProcessEnv = { ...process.env };
delete env.DATABASE_URL;
const run = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
  timed('node', args, { cwd: ROOT, env: { ...env, ...extra } });

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main() {
  mkdirSync(OUT, { recursive: true });
  await ensureBundle();
  const home = await mkdtemp(join(tmpdir(), 'strata-bench-reads-'));
  const catalog = join(home, 'catalog');
  const strata = (args: string[]) => ['bin/strata.mjs', '--home', home, '--catalog', catalog, ...args];
  let serving: ChildProcess | undefined;
  try {
    // Prepare: a small catalog, three versions of its dataset, one product built, all through the CLI.
    await mkdir(join(catalog, 'datasets'), { recursive: true });
    await mkdir(join(catalog, 'products', 'summary'), { recursive: true });
    await writeFile(
      join(catalog, 'datasets', 'places.yaml'),
      `name: places
format: csv
columns:
  - { name: id, type: integer }
  - { name: lon, type: double }
  - { name: lat, type: double }
geometry: { kind: lonlat, lon: lon, lat: lat }
`,
    );
    await writeFile(
      join(catalog, 'datasets', 'notes.yaml'),
      'name: notes\nformat: csv\ncolumns: [{ name: id, type: integer }]\ngeometry: { kind: none }\n',
    );
    await writeFile(
      join(catalog, 'products', 'summary', 'product.yaml'),
      'name: summary\ninputs: { places: places }\noutputs: [{ table: counted, formats: [csv, geojson] }]\n',
    );
    await writeFile(
      join(catalog, 'products', 'summary', '010_counted.sql'),
      'CREATE TABLE counted AS SELECT id, geom FROM places;\n',
    );
    process.stderr.write(`preparing ${home} (creating the embedded database, ingests, a build)\n`);
    for (let v = 1; v <= 3; v++) {
      const rows = Array.from({ length: 100 * v }, (_, i) => `${i},${(i % 360) - 180},${(i % 180) - 90}`);
      await writeFile(join(home, `places-${v}.csv`), `id,lon,lat\n${rows.join('\n')}\n`);
      await run(strata(['ingest', 'places', join(home, `places-${v}.csv`)]));
    }
    await run(strata(['build', 'summary']));
    // A dataset the archive cannot describe alone (its version's record of its load is gone, as for versions
    // archived before records were kept): only a serve or the database can answer for it.
    await writeFile(join(home, 'notes-1.csv'), 'id\n1\n');
    await run(strata(['ingest', 'notes', join(home, 'notes-1.csv')]));
    const notesDir = join(home, 'buckets', 'archive', 'datasets', 'notes');
    for (const entry of await readdir(notesDir, { recursive: true }))
      if (/(^|\/)loads\/[^/]+\.json$/.test(entry)) await rm(join(notesDir, entry));

    const timings = new Map<string, number[]>();
    const time = async (name: string, args: string[], extra: NodeJS.ProcessEnv = {}) => {
      const { ms } = await run(args, extra);
      timings.set(name, [...(timings.get(name) ?? []), ms]);
    };
    const fast = { STRATA_READS: 'fast' };
    const database = { STRATA_READS: 'database' };
    // Rounds interleave the commands, so drift on a shared machine spreads over all of them alike.
    const round = async (withServe: boolean) => {
      await time("node -e '' (floor)", ['-e', '']);
      if (withServe) {
        await time('strata runs (serve)', strata(['runs']), fast);
        await time('strata versions notes (serve)', strata(['versions', 'notes']), fast);
        return;
      }
      await time('strata show summary', strata(['show', 'summary']), fast);
      await time('strata versions summary', strata(['versions', 'summary']), fast);
      await time('strata versions places (archive)', strata(['versions', 'places']), fast);
      await time('strata versions places (database)', strata(['versions', 'places']), database);
      await time('strata versions notes (database)', strata(['versions', 'notes']), database);
      await time('strata runs (database)', strata(['runs']), database);
    };
    for (let r = 1; r <= ROUNDS; r++) {
      process.stderr.write(`round ${r} of ${ROUNDS}\n`);
      await round(false);
    }
    serving = spawn('node', strata(['serve', '--port', '0']), { cwd: ROOT, env, stdio: 'ignore' });
    const announced = join(home, 'serve.json');
    for (let waited = 0; !existsSync(announced); waited += 100) {
      if (waited > 300_000) throw new Error('strata serve did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let r = 1; r <= ROUNDS; r++) {
      process.stderr.write(`round ${r} of ${ROUNDS}, with strata serve running\n`);
      await round(true);
    }

    const floor = median(timings.get("node -e '' (floor)")!);
    const rows = [...timings].map(([name, ms]) => ({
      name,
      seconds: median(ms) / 1000,
      ratio: median(ms) / floor,
      rounds: ms.map((m) => Math.round(m)),
    }));
    process.stderr.write(`\nread commands, cold, embedded database: median of ${ROUNDS} runs each\n`);
    for (const r of rows) {
      const fastPath = !r.name.includes('(database)') && !r.name.startsWith('node');
      const verdict = fastPath ? (r.seconds < TARGET_SECONDS ? '  ok' : '  MISSED') : '';
      process.stderr.write(
        `  ${r.name.padEnd(38)} ${r.seconds.toFixed(2).padStart(6)} s  ${r.ratio.toFixed(1).padStart(5)}x the floor${verdict}   [${r.rounds.join(', ')} ms]\n`,
      );
    }
    const db = median(timings.get('strata versions places (database)')!);
    const archive = median(timings.get('strata versions places (archive)')!);
    process.stderr.write(
      `  the archive answers versions ${(db / archive).toFixed(1)}x faster than opening the database (target for fast paths: < ${TARGET_SECONDS} s)\n`,
    );
    writeFileSync(
      join(OUT, 'reads.json'),
      `${JSON.stringify({ rounds: ROUNDS, floorMs: floor, rows }, null, 2)}\n`,
    );
  } finally {
    serving?.kill('SIGTERM');
    await new Promise((r) => (serving && serving.exitCode === null ? serving.once('exit', r) : r(undefined)));
    await rm(home, { recursive: true, force: true });
  }
}

await main();
