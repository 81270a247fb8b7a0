// `npm run bench`: Strata's load and export side by side with psql \copy and ogr2ogr, in one run, on one
// PostgreSQL server. Prints rows/s, peak RSS and the ratios; writes bench/out/results.json.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ENTRIES, ensureBundle } from '../bin/bundle.mjs';
import { type ApiBenchResult, benchApi, printApi } from './api.ts';
import { writePointsCsv, writePolygonsGeoJson } from './data.ts';
import { benchEngines, type EnginesResult } from './engines.ts';
import { type BenchContext, gdalFiles, gdalRound, largeFile } from './gdal.ts';
import { serverForBench } from './postgres.ts';
import { checkPrerequisites } from './prerequisites.ts';
import { benchQa } from './qa.ts';
import { benchScale, type ScaleResult, scaleOptionsFromEnv } from './scale.ts';
import { timed } from './spawn.ts';
import { benchSync, type SyncBenchResult } from './sync.ts';

const OUT = fileURLToPath(new URL('./out/', import.meta.url));
const POINTS = Number(process.env.BENCH_POINTS ?? 1_000_000);
const POLYGONS = Number(process.env.BENCH_POLYGONS ?? 200_000);
/** Each timing within a round is the best of this many runs. */
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
/**
 * Rounds of every tool, back to back; the ratios reported are the median of the rounds' ratios. This machine
 * kind drifts by up to 40% within minutes, so tools timed far apart do not compare.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** The partner API's part needs no database; its size is BENCH_API_POINTS. */
const API_POINTS = Number(process.env.BENCH_API_POINTS ?? POINTS);
const API_PAGES = Number(process.env.BENCH_API_PAGES ?? 200);
/**
 * Which parts to run: `csv` (CSV and GeoJSON against psql and ogr2ogr), `gdal` (GeoPackage, Shapefile,
 * exports), `api` (the partner API's pages against reading the file), `sync` (`strata sync` of a product
 * with 1% of rows changed against a full download through the API and the GeoPackage; its size is
 * BENCH_SYNC_POINTS, default BENCH_POINTS), `engines` (the demo's product over many places on the embedded
 * database and on a server), `scale` (`strata serve --workers N` over a mixed queue, and the partner API under
 * wrk; see bench/scale.ts). `sync`, `engines` and `scale` are asked for by name: BENCH_PARTS=csv,gdal,api,sync.
 */
const PARTS = (process.env.BENCH_PARTS ?? 'csv,gdal,api').split(',');
/** Places in the `engines` part (the issue's case: 6,000,000, a 340 MB CSV). */
const ENGINE_POINTS = Number(process.env.BENCH_ENGINE_POINTS ?? 6_000_000);
/** Size of the GeoPackage ingested once to show memory stays flat whatever the file's size; 0 skips it. */
const LARGE_MB = Number(process.env.BENCH_LARGE_MB ?? 2048);
/** Rows of the output whose QA report is timed (0 leaves it out). */
const QA_ROWS = Number(process.env.BENCH_QA_ROWS ?? POINTS);
const SYNC_POINTS = Number(process.env.BENCH_SYNC_POINTS ?? POINTS);

/** The change feeds' part, on the bench's server (its own database there). */
async function syncPart(url: string): Promise<SyncBenchResult | undefined> {
  return PARTS.includes('sync') ? benchSync(url, SYNC_POINTS) : undefined;
}

/** A tool run to its end, timed, with the bench's environment and `env` on top. */
const sh = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  timed(cmd, args, { env: { ...process.env, ...env } });

interface Result {
  name: string;
  rows: number;
  seconds: number;
  rssMb?: number;
  /** Peak RSS of the processes Strata started (ogr2ogr). */
  childRssMb?: number;
  embedded?: boolean;
}

/** The partner API's part: pages through HTTP with Hawk beside the file read in-process, and RSS under load. */
async function apiPart(): Promise<ApiBenchResult> {
  const csv = join(OUT, `points-${API_POINTS}.csv`);
  if (!existsSync(csv)) await writePointsCsv(csv, API_POINTS);
  const bundle = await ensureBundle({ 'bench-api-server': 'bench/api-server.ts' });
  const result = await benchApi({
    out: OUT,
    csv,
    points: API_POINTS,
    server: bundle['bench-api-server']!,
    pages: API_PAGES,
  });
  printApi(result);
  return result;
}

/** The demo's product over BENCH_ENGINE_POINTS places on the embedded database and on the server. */
async function enginesPart(): Promise<EnginesResult> {
  const server = await serverForBench();
  try {
    return await benchEngines(OUT, server.url, ENGINE_POINTS);
  } finally {
    server.stop();
  }
}

/** How jobs a minute and the partner API's throughput grow with workers and connections, on one server. */
async function scalePart(): Promise<ScaleResult> {
  const server = await serverForBench();
  try {
    return await benchScale(scaleOptionsFromEnv(OUT, server.url));
  } finally {
    server.stop();
  }
}

async function main() {
  await checkPrerequisites();
  mkdirSync(OUT, { recursive: true });
  const engines = PARTS.includes('engines') ? await enginesPart() : undefined;
  if (engines) writeFileSync(join(OUT, 'engines.json'), `${JSON.stringify(engines, null, 2)}\n`);
  const scale = PARTS.includes('scale') ? await scalePart() : undefined;
  if (scale) writeFileSync(join(OUT, 'scale.json'), `${JSON.stringify(scale, null, 2)}\n`);
  if (PARTS.every((p) => p === 'engines' || p === 'scale')) return;
  if (!PARTS.includes('csv') && !PARTS.includes('gdal')) {
    const api = PARTS.includes('api') ? await apiPart() : undefined;
    let sync: SyncBenchResult | undefined;
    if (PARTS.includes('sync')) {
      const server = await serverForBench();
      try {
        sync = await syncPart(server.url);
      } finally {
        server.stop();
      }
    }
    writeFileSync(join(OUT, 'results.json'), `${JSON.stringify({ api, sync }, null, 2)}\n`);
    return;
  }
  const csv = join(OUT, `points-${POINTS}.csv`);
  const geojson = join(OUT, `polygons-${POLYGONS}.geojson`);
  if (PARTS.includes('csv') && !existsSync(csv)) await writePointsCsv(csv, POINTS);
  if (PARTS.includes('csv') && !existsSync(geojson)) await writePolygonsGeoJson(geojson, POLYGONS);

  const server = await serverForBench();
  const u = new URL(server.url);
  const pgConn = `PG:host=${u.hostname} port=${u.port} user=${decodeURIComponent(u.username)} dbname=strata_bench${u.password ? ` password=${decodeURIComponent(u.password)}` : ''}`;
  // A fresh database each run, so earlier runs' dataset versions are not found as duplicates.
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS strata_bench WITH (FORCE)');
  await admin.query('CREATE DATABASE strata_bench');
  await admin.end();
  const benchUrl = new URL(server.url);
  benchUrl.pathname = '/strata_bench';
  const client = new pg.Client({ connectionString: benchUrl.toString() });
  await client.connect();
  const q = (sql: string) => client.query(sql);
  /**
   * Before each timing: only the tables the export needs are kept (vacuumed, so autovacuum has nothing left
   * to do on them) and a checkpoint flushes what the last run wrote, so no run pays for another's work.
   */
  const settle = async (keep: string[] = []) => {
    const tables = await q(
      `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname IN ('bench', 'datasets')`,
    );
    for (const { t } of tables.rows as { t: string }[]) {
      if (!keep.some((k) => t.includes(k))) await q(`DROP TABLE ${t} CASCADE`);
    }
    for (const k of keep) await q(`VACUUM ANALYZE datasets."${k}"`);
    await q('CHECKPOINT');
  };
  const kept: string[] = [];
  await q('CREATE EXTENSION IF NOT EXISTS postgis');
  await q('DROP SCHEMA IF EXISTS bench CASCADE; CREATE SCHEMA bench');
  const env = { DATABASE_URL: benchUrl.toString() };
  const results: Result[] = [];
  const record = (r: Result) => {
    results.push(r);
    const rate = Math.round(r.rows / r.seconds).toLocaleString('en');
    process.stderr.write(
      `  ${r.name.padEnd(48)} ${r.seconds.toFixed(2).padStart(7)} s ${rate.padStart(11)} rows/s${r.rssMb ? `  ${r.rssMb} MB RSS` : ''}${r.childRssMb ? ` (ogr2ogr ${r.childRssMb} MB)` : ''}\n`,
    );
  };
  const psql = (command: string) => sh('psql', [benchUrl.toString(), '-qAtc', command]);
  const best = async <T extends Result>(n: number, fn: () => Promise<T>): Promise<T> => {
    let r: T | undefined;
    for (let i = 0; i < n; i++) {
      const x = await fn();
      if (!r || x.seconds < r.seconds) r = x;
    }
    return r!;
  };
  // Strata's side runs bundled, as the command line and the task image run it.
  const bundle = await ensureBundle({
    'bench-worker': 'bench/worker.ts',
    'geojson-worker': ENTRIES['geojson-worker']!,
  });
  const worker = async (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    JSON.parse((await sh('node', [bundle['bench-worker']!, ...args], { ...env, ...extra })).stdout);

  /** One round: every tool once, back to back, so a round's ratios compare like with like. */
  const round = async (roundNo: number) => {
    kept.length = 0;
    process.stderr.write(`\n== round ${roundNo}\n`);
    process.stderr.write(`\nload ${POINTS.toLocaleString('en')} points (CSV)\n`);
    const cols =
      'id integer, name text, category text, value double precision, lon double precision, lat double precision';
    record(
      await best(RUNS, async () => {
        await settle(kept);
        await q(`CREATE TABLE bench.copy_plain (${cols})`);
        const { ms } = await psql(`\\copy bench.copy_plain FROM '${csv}' WITH (FORMAT csv, HEADER true)`);
        return { name: 'psql \\copy, no geometry', rows: POINTS, seconds: ms / 1000 };
      }),
    );
    const floor = await best(RUNS, async () => {
      await settle(kept);
      await q(`CREATE TABLE bench.copy_geom (${cols},
        geom geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED)`);
      const { ms } = await psql(`\\copy bench.copy_geom FROM '${csv}' WITH (FORMAT csv, HEADER true)`);
      return { name: 'psql \\copy, generated geometry (floor)', rows: POINTS, seconds: ms / 1000 };
    });
    record(floor);
    const ogrCsv = async (index: boolean) => {
      await settle(kept);
      const { ms } = await sh(
        'ogr2ogr',
        [
          '-f',
          'PostgreSQL',
          pgConn,
          csv,
          '-overwrite',
          '-nln',
          `ogr_points_${index ? 'idx' : 'noidx'}`,
          '-lco',
          'SCHEMA=bench',
          '-lco',
          'GEOMETRY_NAME=geom',
          '-lco',
          `SPATIAL_INDEX=${index ? 'GIST' : 'NONE'}`,
          '-oo',
          'X_POSSIBLE_NAMES=lon',
          '-oo',
          'Y_POSSIBLE_NAMES=lat',
          '-oo',
          'AUTODETECT_TYPE=YES',
          '-a_srs',
          'EPSG:4326',
        ],
        { PG_USE_COPY: 'YES' },
      );
      return {
        name: `ogr2ogr CSV, ${index ? 'spatial index (default)' : 'no index'}`,
        rows: POINTS,
        seconds: ms / 1000,
      };
    };
    const ogrCsvIdx = await ogrCsv(true);
    record(ogrCsvIdx);
    const ogrCsvNoIdx = await ogrCsv(false);
    record(ogrCsvNoIdx);
    let n = 0;
    let lastTable = '';
    const strataLoad = async (format: string, file: string, index: boolean) => {
      await settle(kept);
      const r = await worker([
        'load',
        format,
        file,
        `bench_${format}_${roundNo}_${++n}`,
        index ? 'index' : 'noindex',
      ]);
      lastTable = r.table as string;
      return {
        name: `strata ${format} load, ${index ? 'spatial index' : 'no index'}`,
        rows: r.rows,
        seconds: r.loadMs / 1000,
        rssMb: r.rssMb,
        table: r.table as string,
      };
    };
    const strataCsv = await best(RUNS, () => strataLoad('csv', csv, false));
    record(strataCsv);
    const strataCsvIdx = await best(RUNS, () => strataLoad('csv', csv, true));
    record(strataCsvIdx);
    // Each run drops the one before; the last run's table is the one left for the export timings.
    const pointsTable = lastTable;
    kept.push(pointsTable);

    process.stderr.write(`\nload ${POLYGONS.toLocaleString('en')} polygons (GeoJSON)\n`);
    const ogrJson = async (index: boolean) => {
      await settle(kept);
      const { ms } = await sh(
        'ogr2ogr',
        [
          '-f',
          'PostgreSQL',
          pgConn,
          geojson,
          '-overwrite',
          '-nln',
          `ogr_polys_${index ? 'idx' : 'noidx'}`,
          '-lco',
          'SCHEMA=bench',
          '-lco',
          'GEOMETRY_NAME=geom',
          '-lco',
          `SPATIAL_INDEX=${index ? 'GIST' : 'NONE'}`,
        ],
        { PG_USE_COPY: 'YES' },
      );
      return {
        name: `ogr2ogr GeoJSON, ${index ? 'spatial index (default)' : 'no index'}`,
        rows: POLYGONS,
        seconds: ms / 1000,
      };
    };
    const ogrJsonIdx = await ogrJson(true);
    record(ogrJsonIdx);
    const ogrJsonNoIdx = await ogrJson(false);
    record(ogrJsonNoIdx);
    const strataJson = await best(RUNS, () => strataLoad('geojson', geojson, false));
    record(strataJson);
    const strataJsonIdx = await best(RUNS, () => strataLoad('geojson', geojson, true));
    record(strataJsonIdx);
    const polysTable = lastTable;
    kept.push(polysTable);
    await settle(kept);

    process.stderr.write('\nexport\n');
    const csvOut = join(OUT, 'export-floor.csv');
    const exportFloor = await best(RUNS, async () => {
      const { ms } = await psql(
        `\\copy (SELECT id::text, name, category, value::text, lon::text, lat::text, ST_AsText(geom) AS geometry FROM datasets."${pointsTable}") TO '${csvOut}' WITH (FORMAT csv, HEADER true)`,
      );
      return { name: 'psql \\copy (SELECT ...) TO, CSV with WKT (floor)', rows: POINTS, seconds: ms / 1000 };
    });
    record(exportFloor);
    const strataExport = async (table: string, format: string, rows: number, label: string) => {
      const r = await worker(['export', 'datasets', table, format]);
      return { name: `strata export ${label}`, rows, seconds: r.ms / 1000, rssMb: r.rssMb };
    };
    const strataCsvExport = await best(RUNS, () => strataExport(pointsTable, 'csv', POINTS, 'points CSV'));
    record(strataCsvExport);
    const ogrExport = async (table: string, rows: number, label: string) => {
      const out = join(OUT, `ogr-${label}.geojson`);
      rmSync(out, { force: true });
      const { ms } = await sh('ogr2ogr', [
        '-f',
        'GeoJSON',
        out,
        pgConn,
        '-sql',
        `SELECT * FROM datasets."${table}"`,
      ]);
      return { name: `ogr2ogr PG -> GeoJSON, ${label}`, rows, seconds: ms / 1000 };
    };
    const ogrPts = await ogrExport(pointsTable, POINTS, 'points');
    record(ogrPts);
    const strataPts = await best(RUNS, () => strataExport(pointsTable, 'geojson', POINTS, 'points GeoJSON'));
    record(strataPts);
    const ogrPolys = await ogrExport(polysTable, POLYGONS, 'polygons');
    record(ogrPolys);
    const strataPolys = await best(RUNS, () =>
      strataExport(polysTable, 'geojson', POLYGONS, 'polygons GeoJSON'),
    );
    record(strataPolys);

    const rate = (r: Result) => r.rows / r.seconds;
    const ratios = [
      {
        ratio: 'CSV load vs \\copy with generated geometry',
        value: rate(strataCsv) / rate(floor),
        target: 0.8,
      },
      {
        // The issue's own pairing: its figures (ogr2ogr 8.1 s with index, 5.4 s without; the floor 1.47 s)
        // make 4x reachable only against ogr2ogr as users run it, with its default index.
        ratio: 'CSV load vs ogr2ogr CSV as users run it',
        value: rate(strataCsv) / rate(ogrCsvIdx),
        target: 4,
      },
      {
        ratio: 'CSV load vs ogr2ogr CSV (no index each)',
        value: rate(strataCsv) / rate(ogrCsvNoIdx),
        target: 4,
      },
      {
        ratio: 'CSV load vs ogr2ogr CSV (spatial index each)',
        value: rate(strataCsvIdx) / rate(ogrCsvIdx),
        target: 4,
      },
      {
        ratio: 'GeoJSON load vs ogr2ogr (no index each)',
        value: rate(strataJson) / rate(ogrJsonNoIdx),
        target: 2,
      },
      {
        ratio: 'GeoJSON load vs ogr2ogr (spatial index each)',
        value: rate(strataJsonIdx) / rate(ogrJsonIdx),
        target: 2,
      },
      {
        ratio: 'CSV export vs \\copy (SELECT) TO',
        value: rate(strataCsvExport) / rate(exportFloor),
        target: 0.8,
      },
      { ratio: 'GeoJSON export vs ogr2ogr, points', value: rate(strataPts) / rate(ogrPts), target: 5 },
      { ratio: 'GeoJSON export vs ogr2ogr, polygons', value: rate(strataPolys) / rate(ogrPolys), target: 5 },
    ];
    return ratios;
  };
  const ctx: BenchContext = {
    out: OUT,
    pgConn,
    sh,
    q,
    settle,
    worker,
    record,
  };
  const files = PARTS.includes('gdal') ? await gdalFiles(ctx, POINTS, POLYGONS) : undefined;
  const rounds: { ratio: string; value: number; target: number | null }[][] = [];
  for (let n = 1; n <= ROUNDS; n++)
    rounds.push([
      ...(PARTS.includes('csv') ? await round(n) : []),
      ...(files ? await gdalRound(ctx, files, n) : []),
    ]);
  const large = files && LARGE_MB > 0 ? await largeFile(ctx, LARGE_MB) : undefined;
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const ratios = (rounds[0] ?? []).map((r, i) => ({
    ratio: r.ratio,
    target: r.target,
    rounds: rounds.map((x) => x[i]!.value),
    value: median(rounds.map((x) => x[i]!.value)),
  }));
  const peak = Math.max(...results.filter((r) => !r.embedded).map((r) => r.rssMb ?? 0));
  const embeddedPeak = Math.max(0, ...results.filter((r) => r.embedded).map((r) => r.rssMb ?? 0));
  const childPeak = Math.max(...results.map((r) => r.childRssMb ?? 0));
  process.stderr.write(`\ntimings: the median of ${ROUNDS} rounds for each tool\n`);
  const byTool = new Map<string, Result[]>();
  for (const r of results) byTool.set(r.name, [...(byTool.get(r.name) ?? []), r]);
  for (const [name, runs] of byTool) {
    const seconds = median(runs.map((r) => r.seconds));
    const rss = Math.max(...runs.map((r) => r.rssMb ?? 0));
    const child = Math.max(...runs.map((r) => r.childRssMb ?? 0));
    process.stderr.write(
      `  ${name.padEnd(48)} ${seconds.toFixed(2).padStart(7)} s ${Math.round(runs[0]!.rows / seconds)
        .toLocaleString('en')
        .padStart(
          11,
        )} rows/s${rss ? `  ${rss} MB RSS (peak)` : ''}${child ? ` (ogr2ogr ${child} MB)` : ''}\n`,
    );
  }
  process.stderr.write(
    `\nratios (Strata rows/s over the other tool's): median of ${ROUNDS} rounds, then each round\n`,
  );
  for (const r of ratios)
    process.stderr.write(
      `  ${r.ratio.padEnd(56)} ${r.value.toFixed(2).padStart(6)}x  ${r.target === null ? '(for reading)         ' : `(target >= ${r.target}x) ${r.value >= r.target ? 'ok    ' : 'MISSED'}`}   [${r.rounds.map((v) => v.toFixed(2)).join(', ')}]\n`,
    );
  process.stderr.write(
    `  ${'peak RSS of any Strata process'.padEnd(56)} ${String(peak).padStart(6)} MB (target <= 256 MB) ${peak <= 256 ? 'ok' : 'MISSED'}\n`,
  );
  if (embeddedPeak)
    process.stderr.write(
      `  ${'peak RSS of a Strata process on the embedded GDAL'.padEnd(56)} ${String(embeddedPeak).padStart(6)} MB (for reading: GDAL's WebAssembly heap included)\n`,
    );
  if (childPeak)
    process.stderr.write(
      `  ${'peak RSS of an ogr2ogr Strata started'.padEnd(56)} ${String(childPeak).padStart(6)} MB (target <= 256 MB) ${childPeak <= 256 ? 'ok' : 'MISSED'}\n`,
    );
  if (large)
    process.stderr.write(
      `  ${'on the large file: Strata, ogr2ogr'.padEnd(56)} ${String(large.rssMb).padStart(6)} MB, ${large.childRssMb} MB\n`,
    );
  await client.end();
  const qa = QA_ROWS > 0 ? await benchQa(server.url, QA_ROWS, ROUNDS) : undefined;
  const sync = await syncPart(server.url);
  server.stop();
  // With the database stopped: the partner API reads published files only.
  const api = PARTS.includes('api') ? await apiPart() : undefined;
  writeFileSync(
    join(OUT, 'results.json'),
    `${JSON.stringify({ points: POINTS, polygons: POLYGONS, results, ratios, peakRssMb: peak, embeddedPeakRssMb: embeddedPeak, childPeakRssMb: childPeak, large, qa, api, sync }, null, 2)}\n`,
  );
}

await main();
