// The QA report's cost: two builds of a product whose output is a points CSV as loaded (BENCH_QA_ROWS rows,
// default 1,000,000), the second after some rows changed, timed by the builds' own manifests. Target: the
// report adds at most 20% to a build's time. Runs inside `npm run bench`, or alone: `npm run bench:qa`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ENTRIES, ensureBundle } from '../bin/bundle.mjs';
import { writeChangedPointsCsv, writePointsCsv } from './data.ts';
import { serverForBench } from './postgres.ts';

const OUT = fileURLToPath(new URL('./out/', import.meta.url));
export const TARGET = 0.2;

interface Build {
  totalMs: number;
  qaMs: number;
  qa?: { rows: number; added: number | null; removed: number | null; changed: number | null };
  /** The report's time for the output: figures, row list and comparison, map and samples. */
  parts?: { stats: number; rows: number; map: number };
}

function worker(
  path: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ builds: Build[]; rssMb: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [path, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`qa worker exited ${code}`)),
    );
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Runs the rounds on the server at `url` (a database of its own is made there) and prints the figures. */
export async function benchQa(url: string, rows: number, rounds: number) {
  mkdirSync(OUT, { recursive: true });
  const v1 = join(OUT, `points-${rows}.csv`);
  const v2 = join(OUT, `points-${rows}-next.csv`);
  if (!existsSync(v1)) await writePointsCsv(v1, rows);
  const expected = await writeChangedPointsCsv(v1, v2);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS strata_bench_qa WITH (FORCE)');
  await admin.query('CREATE DATABASE strata_bench_qa');
  await admin.end();
  const db = new URL(url);
  db.pathname = '/strata_bench_qa';
  const bundle = await ensureBundle({
    'bench-worker': 'bench/worker.ts',
    'geojson-worker': ENTRIES['geojson-worker']!,
  });
  process.stderr.write(`\nQA report of a ${rows.toLocaleString('en')}-row output (${rounds} round(s))\n`);
  const results: { round: number; builds: Build[]; rssMb: number }[] = [];
  for (let round = 1; round <= rounds; round++) {
    const r = await worker(bundle['bench-worker']!, ['qa', v1, v2, `qa_points_${round}`], {
      DATABASE_URL: db.toString(),
    });
    results.push({ round, ...r });
    for (const [i, b] of r.builds.entries())
      process.stderr.write(
        `  round ${round}, build ${i + 1}${i === 0 ? ' (first version)  ' : ' (against the first)'} ${(b.totalMs / 1000).toFixed(2).padStart(6)} s, QA report ${(b.qaMs / 1000).toFixed(2).padStart(5)} s = ${((100 * b.qaMs) / (b.totalMs - b.qaMs)).toFixed(1).padStart(5)}% added${b.parts ? `  (figures ${b.parts.stats} ms, rows ${b.parts.rows} ms, map ${b.parts.map} ms)` : ''}${b.qa?.changed !== null && b.qa?.changed !== undefined ? `  ${b.qa.added} added, ${b.qa.removed} removed, ${b.qa.changed} changed` : ''}\n`,
      );
    const second = r.builds[1]?.qa;
    if (
      second &&
      (second.added !== expected.added ||
        second.removed !== expected.removed ||
        second.changed !== expected.changed)
    )
      throw new Error(
        `the report counted ${JSON.stringify(second)}, the data changed by ${JSON.stringify(expected)}`,
      );
  }
  const share = (i: number) =>
    median(results.map((r) => r.builds[i]!.qaMs / (r.builds[i]!.totalMs - r.builds[i]!.qaMs)));
  const summary = {
    rows,
    rounds,
    firstVersion: share(0),
    againstPrevious: share(1),
    target: TARGET,
    peakRssMb: Math.max(...results.map((r) => r.rssMb)),
  };
  for (const [label, v] of [
    ['first version (nothing to compare)', summary.firstVersion],
    ['against the previous version', summary.againstPrevious],
  ] as const)
    process.stderr.write(
      `  ${`QA report's share of the build, ${label}`.padEnd(72)} ${(100 * v).toFixed(1).padStart(5)}% (target <= ${100 * TARGET}%) ${v <= TARGET ? 'ok' : 'MISSED'}\n`,
    );
  writeFileSync(join(OUT, 'qa.json'), `${JSON.stringify({ ...summary, results }, null, 2)}\n`);
  return summary;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const server = await serverForBench();
  try {
    await benchQa(
      server.url,
      Number(process.env.BENCH_QA_ROWS ?? 1_000_000),
      Number(process.env.BENCH_ROUNDS ?? 3),
    );
  } finally {
    server.stop();
  }
}
