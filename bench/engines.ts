// The `engines` part of `npm run bench`: the demo's product over many places, on the embedded database and on
// a PostgreSQL server, side by side, as a user runs it (the command line, a home each). The slow-step hint
// (bin/cli/output.ts) says a server would be faster; this is the measured ratio behind it.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDemoFiles } from '../runtime/catalog-files/demo-data.ts';
import { emptyDatabase } from './postgres.ts';
import { timed } from './spawn.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STRATA = join(ROOT, 'bin', 'strata.mjs');

/** A step as the user waits for it, and the command line's peak RSS (GNU time's maximum resident set size). */
export interface EngineStep {
  readonly step: 'ingest counties' | 'ingest places' | 'build';
  readonly seconds: number;
  readonly rssMb: number;
}

export interface EnginesResult {
  readonly points: number;
  readonly embedded: EngineStep[];
  readonly server: EngineStep[];
  /** Embedded seconds over server seconds, per step (above 1: the server is faster). */
  readonly ratios: Record<string, number>;
}

/**
 * Places as world_places takes them (GeoNames' columns), spread over the contiguous United States so every
 * one meets the spatial join; a fixed sequence, so every run builds the same product.
 */
export async function writePlacesCsv(path: string, n: number): Promise<void> {
  const out = createWriteStream(path);
  out.write('geoname_id,name,country,feature_code,admin_code,population,lon,lat\n');
  let seed = 20261207;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  let chunk = '';
  for (let i = 1; i <= n; i++) {
    const lon = (-124 + next() * 57).toFixed(5);
    const lat = (25 + next() * 24).toFixed(5);
    chunk += `${i},place ${i},US,PPL,,${Math.floor(next() * 100_000)},${lon},${lat}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

async function step(
  name: EngineStep['step'],
  args: string[],
  env: NodeJS.ProcessEnv,
  rssFile: string,
): Promise<EngineStep> {
  const { ms } = await timed(
    '/usr/bin/time',
    ['-f', '%M', '-o', rssFile, 'node', STRATA, '--catalog', join(ROOT, 'catalog'), ...args],
    { env },
  );
  const kb = Number((await readFile(rssFile, 'utf8')).trim().split('\n').at(-1));
  return { step: name, seconds: ms / 1000, rssMb: Math.round(kb / 1024) };
}

/** The three steps in a new home: the counties, the places, the product. */
async function runOn(home: string, env: NodeJS.ProcessEnv, files: { counties: string; places: string }) {
  const e = { ...env, STRATA_HOME: home };
  const rss = `${home}.rss`;
  return [
    await step('ingest counties', ['ingest', 'us_counties', files.counties], e, rss),
    await step('ingest places', ['ingest', 'world_places', files.places], e, rss),
    await step('build', ['build', 'county_places'], e, rss),
  ];
}

/** The demo's product over `points` places, in a fresh home on each engine. */
export async function benchEngines(out: string, serverUrl: string, points: number): Promise<EnginesResult> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-bench-engines-'));
  try {
    const { counties } = await writeDemoFiles(join(dir, 'demo'));
    const places = join(out, `places-${points}.csv`);
    await writePlacesCsv(places, points);
    const url = await emptyDatabase(serverUrl, 'strata_bench_engines');
    const { DATABASE_URL: _, ...noServer } = process.env;
    process.stderr.write(`\nthe demo's product over ${points.toLocaleString('en')} places, each engine\n`);
    const embedded = await runOn(join(dir, 'embedded'), noServer, { counties, places });
    const server = await runOn(
      join(dir, 'server'),
      { ...noServer, DATABASE_URL: url },
      {
        counties,
        places,
      },
    );
    const ratios = Object.fromEntries(
      embedded.map((e, i) => [e.step, Number((e.seconds / server[i]!.seconds).toFixed(2))]),
    );
    for (const [i, e] of embedded.entries()) {
      const s = server[i]!;
      process.stderr.write(
        `  ${e.step.padEnd(16)} embedded ${e.seconds.toFixed(1).padStart(7)} s ${String(e.rssMb).padStart(5)} MB   server ${s.seconds.toFixed(1).padStart(7)} s ${String(s.rssMb).padStart(5)} MB   ${ratios[e.step]}×\n`,
      );
    }
    return { points, embedded, server, ratios };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
