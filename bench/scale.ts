// How Strata scales on one PostgreSQL server (BENCH_PARTS=scale, or `npm run bench:scale`):
// 1. `strata serve --workers N` for N = 1, 2, 4, 8, each in a new home and database, working one mixed queue
//    of BENCH_SCALE_INGESTS ingests (CSV files of BENCH_SCALE_ROWS points, each a new version) and
//    BENCH_SCALE_BUILDS builds of a product that reads them, submitted before serve starts, and the rebuilds
//    each new version queues (the product is stale): jobs a minute from serve's start until no run is
//    queued or running, and the CPU the database server and serve spent meanwhile.
// 2. The partner API of `strata serve` under `wrk` at 1, 8, 32 and 128 connections: requests a second, p50
//    and p95 of an items page and of a bbox page of a published product of BENCH_SCALE_API_POINTS points.
// Writes a PNG chart of both with Chromium (bench/out/scale.png), for docs/benchmark.md.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { chromium } from 'playwright-core';
import { submit } from '../runtime/jobs/submit.ts';
import { addPartner } from '../runtime/partners/admin.ts';
import { emptyDirectory } from '../runtime/partners/credentials.ts';
import { openLocalPlatform } from '../runtime/platform/local.ts';
import { emptyDatabase } from './postgres.ts';
import { timed } from './spawn.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const STRATA = join(ROOT, 'bin/strata.mjs');
/**
 * Datasets, each read by one product of its own: builds of one product wait for each other (an advisory
 * lock), so a queue of one product's builds could never use a second worker.
 */
const PAIRS = 4;
const DATASET = (i: number) => `scale_points_${i}`;
const PRODUCT = (i: number) => `scale_grid_${i}`;
/** The partner API's part reads the first pair's product. */
const COLLECTION = `${PRODUCT(0)}.points_out`;
/** About a quarter of the points' area. */
const BBOX = '-3,53,-1,55';

export interface WorkersRow {
  readonly workers: number;
  /** Runs worked: the ingests submitted, and the builds submitted with the rebuilds the ingests queued. */
  readonly ingests: number;
  readonly builds: number;
  readonly failed: number;
  readonly seconds: number;
  readonly jobsPerMinute: number;
  /** CPU seconds of every PostgreSQL process while the queue was worked, and as cores busy on average. */
  readonly dbCpuSeconds: number;
  readonly dbCores: number;
  /** The same for `strata serve` (and what it started). */
  readonly serveCpuSeconds: number;
  readonly serveCores: number;
}

export interface ApiRow {
  readonly page: 'items' | 'bbox';
  readonly connections: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  /** Answers other than 2xx, and socket errors. */
  readonly errors: number;
}

export interface ScaleResult {
  /** The queue each `--workers N` found: ingests and builds submitted before serve started. */
  readonly submitted: { readonly ingests: number; readonly builds: number };
  readonly rows: number;
  readonly apiPoints: number;
  readonly workers: WorkersRow[];
  readonly api: ApiRow[];
  readonly chart?: string;
}

export interface ScaleOptions {
  readonly out: string;
  readonly serverUrl: string;
  readonly workers?: number[];
  readonly ingests?: number;
  readonly builds?: number;
  readonly rows?: number;
  readonly apiPoints?: number;
  readonly connections?: number[];
  readonly wrkSeconds?: number;
}

const datasetYaml = (i: number) => `name: ${DATASET(i)}
source:
  kind: upload
format: csv
columns:
  - { name: id, type: bigint, required: true, unique: true }
  - { name: name, type: text }
  - { name: category, type: text }
  - { name: value, type: double }
  - { name: lon, type: double }
  - { name: lat, type: double }
geometry: { kind: lonlat, lon: lon, lat: lat, sourceSrid: 4326, targetSrid: 4326 }
`;

const productYaml = (i: number) => `name: ${PRODUCT(i)}
inputs:
  points: ${DATASET(i)}
checks:
  - { type: unique, table: points_out, columns: [id] }
  - { type: geometry_valid, table: cells }
outputs:
  - { table: points_out, formats: [csv, flatgeobuf], orderBy: [id], key: [id] }
  - { table: cells, formats: [csv, geojson], orderBy: [category, cell], key: [category, cell] }
`;

// A realistic build: every point with its 0.1° cell, and per category and cell a count, a total and a hull.
const PRODUCT_SQL = `CREATE TABLE points_out AS
SELECT id, name, category, value,
       floor(ST_X(geom) * 10)::int || ':' || floor(ST_Y(geom) * 10)::int AS cell, geom
FROM points;

CREATE TABLE cells AS
SELECT category, cell, count(*) AS points, sum(value) AS total, ST_ConvexHull(ST_Collect(geom)) AS geom
FROM points_out GROUP BY category, cell;
`;

async function writeCatalog(dir: string): Promise<void> {
  await mkdir(join(dir, 'datasets'), { recursive: true });
  for (let i = 0; i < PAIRS; i++) {
    await mkdir(join(dir, 'products', PRODUCT(i)), { recursive: true });
    await writeFile(join(dir, 'datasets', `${DATASET(i)}.yaml`), datasetYaml(i));
    await writeFile(join(dir, 'products', PRODUCT(i), 'product.yaml'), productYaml(i));
    await writeFile(join(dir, 'products', PRODUCT(i), '010_points.sql'), PRODUCT_SQL);
  }
}

/** Points over Great Britain; file `k` of a series differs from the others in every row. */
function pointsCsv(rows: number, k: number): string {
  let seed = 0x9e3779b9 ^ (k * 2654435761);
  const r = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const lines = ['id,name,category,value,lon,lat'];
  for (let i = 1; i <= rows; i++)
    lines.push(
      `${i},place ${k}-${i},${['a', 'b', 'c', 'd'][i % 4]},${(r() * 1000).toFixed(2)},${(-6 + r() * 7.8).toFixed(5)},${(50 + r() * 8.6).toFixed(5)}`,
    );
  return `${lines.join('\n')}\n`;
}

/**
 * The fields of `/proc/<pid>/stat` after the command's closing parenthesis (so the first is the state, field
 * 3); undefined once the process is gone.
 */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** User + system CPU ticks of a process (with, for `withChildren`, the children it has waited for). */
function cpuTicks(pid: number, withChildren: boolean): number {
  const f = statFields(pid);
  if (!f) return 0; // gone between the listing and the read
  // utime, stime, cutime and cstime are fields 14 to 17.
  const own = Number(f[11]) + Number(f[12]);
  return withChildren ? own + Number(f[13]) + Number(f[14]) : own;
}

/** Processes whose parent (field 4) is `ppid`. */
async function childrenOf(ppid: number): Promise<number[]> {
  const names = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  return names.filter((name) => Number(statFields(name)?.[1]) === ppid).map(Number);
}

/** CPU seconds the whole PostgreSQL server has spent: the postmaster, its live backends and the ended ones. */
async function serverCpu(postmaster: number): Promise<number> {
  let ticks = cpuTicks(postmaster, true);
  for (const pid of await childrenOf(postmaster)) ticks += cpuTicks(pid, false);
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** `fn` with a client of its own on `url`, closed after it. */
async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The postmaster's pid, read off a backend of a server on this machine (the bench needs a local server). */
const postmasterOf = (url: string): Promise<number> =>
  withClient(url, async (c) => {
    const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return Number(statFields(rows[0]!.pid)?.[1]);
  });

interface Serve {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/** `strata serve` in `home`, until it says it listens. */
async function startServe(
  home: string,
  catalog: string,
  env: NodeJS.ProcessEnv,
  workers: number,
): Promise<Serve> {
  const child = spawn(
    process.execPath,
    [
      STRATA,
      '--home',
      home,
      '--catalog',
      catalog,
      'serve',
      '--port',
      '0',
      '--workers',
      String(workers),
      '--poll-ms',
      '60000',
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const look = (d: Buffer) => {
      log += d;
      const m = /strata serve: http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) resolve(Number(m[1]));
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('exit', (code) => reject(new Error(`strata serve ended (${code}) before it listened:\n${log}`)));
  });
  child.stdout.removeAllListeners('data');
  child.stderr.removeAllListeners('data');
  child.stdout.resume();
  child.stderr.resume();
  return {
    port,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

interface Ended {
  readonly ingests: number;
  readonly builds: number;
  readonly failed: number;
}

/** Runs that ended, by kind; and whether any is still queued or running. */
async function endedRuns(c: pg.Client): Promise<Ended & { open: number }> {
  const { rows } = await c.query<Record<keyof Ended | 'open', string>>(
    `SELECT count(*) FILTER (WHERE kind = 'ingest' AND status IN ('succeeded', 'failed')) AS ingests,
            count(*) FILTER (WHERE kind = 'build' AND status IN ('succeeded', 'failed')) AS builds,
            count(*) FILTER (WHERE status = 'failed') AS failed,
            count(*) FILTER (WHERE status NOT IN ('succeeded', 'failed')) AS open
     FROM strata.runs`,
  );
  const r = rows[0]!;
  return {
    ingests: Number(r.ingests),
    builds: Number(r.builds),
    failed: Number(r.failed),
    open: Number(r.open),
  };
}

/**
 * Waits, polling every 250 ms (a bench, not a test), until no run is queued or running: the jobs submitted
 * and the rebuilds their ingests queued. Returns what ended meanwhile.
 */
const untilDrained = (url: string, before: Ended): Promise<Ended> =>
  withClient(url, async (c) => {
    for (;;) {
      const now = await endedRuns(c);
      if (now.open === 0)
        return {
          ingests: now.ingests - before.ingests,
          builds: now.builds - before.builds,
          failed: now.failed - before.failed,
        };
      await new Promise((r) => setTimeout(r, 250));
    }
  });

/** One home, one database, one mixed queue, worked by `strata serve --workers N`. */
async function workersRow(
  dir: string,
  files: string[],
  serverUrl: string,
  workers: number,
  builds: number,
): Promise<WorkersRow> {
  const home = join(dir, `home-${workers}`);
  const catalogDir = join(dir, 'catalog');
  const url = await emptyDatabase(serverUrl, `strata_bench_scale_${workers}`);
  const env = { ...process.env, DATABASE_URL: url, STRATA_HOME: home };
  // Each product needs a current version of its input before its first build: one ingest each, not timed.
  for (let i = 0; i < PAIRS; i++)
    await timed(
      process.execPath,
      [STRATA, '--home', home, '--catalog', catalogDir, 'ingest', DATASET(i), files[i]!],
      { env },
    );

  const p = await openLocalPlatform({ home, databaseUrl: url });
  try {
    const trigger = { kind: 'cli', by: 'bench' } as const;
    // The datasets in turn, and a build (of the products in turn) spread evenly among the ingests, as a
    // day of uploads and rebuilds interleaves them.
    const ingests = files.slice(PAIRS);
    const every = Math.max(1, Math.floor(ingests.length / builds));
    let built = 0;
    const build = () => submit(p, { kind: 'build', product: PRODUCT(built++ % PAIRS) }, trigger);
    for (const [i, path] of ingests.entries()) {
      const dataset = DATASET(i % PAIRS);
      await submit(
        p,
        { kind: 'ingest', dataset, source: { path }, filename: `points-${i + 1}.csv` },
        trigger,
      );
      if ((i + 1) % every === 0 && built < builds) await build();
    }
    while (built < builds) await build();
  } finally {
    await p.close();
  }

  const postmaster = await postmasterOf(url);
  const before = await withClient(url, endedRuns);
  const dbBefore = await serverCpu(postmaster);
  const started = performance.now();
  const serve = await startServe(home, catalogDir, env, workers);
  const worked = await untilDrained(url, before);
  const seconds = (performance.now() - started) / 1000;
  const serveCpu = cpuTicks(serve.pid, true) / 100;
  const dbCpu = (await serverCpu(postmaster)) - dbBefore;
  await serve.stop();
  const jobs = worked.ingests + worked.builds;
  const row: WorkersRow = {
    workers,
    ingests: worked.ingests,
    builds: worked.builds,
    failed: worked.failed,
    seconds: Number(seconds.toFixed(1)),
    jobsPerMinute: Math.round((jobs / seconds) * 60),
    dbCpuSeconds: Number(dbCpu.toFixed(1)),
    dbCores: Number((dbCpu / seconds).toFixed(2)),
    serveCpuSeconds: Number(serveCpu.toFixed(1)),
    serveCores: Number((serveCpu / seconds).toFixed(2)),
  };
  process.stderr.write(
    `  --workers ${String(workers).padEnd(2)} ${row.ingests} ingests + ${row.builds} builds in ${row.seconds.toFixed(1).padStart(6)} s: ${String(row.jobsPerMinute).padStart(4)} jobs/min; database ${row.dbCores.toFixed(2)} cores, serve ${row.serveCores.toFixed(2)} cores${row.failed ? `; ${row.failed} FAILED` : ''}\n`,
  );
  return row;
}

/** wrk's own summary, written by its `done` hook as one JSON line. */
const WRK_SCRIPT = `wrk.headers["X-API-Key"] = os.getenv("BENCH_API_KEY")
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout
  io.write(string.format('{"requests":%d,"us":%d,"p50":%d,"p95":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), errors))
end
`;

async function apiRows(
  dir: string,
  serverUrl: string,
  apiPoints: number,
  connections: number[],
  wrkSeconds: number,
): Promise<ApiRow[]> {
  const home = join(dir, 'home-api');
  const catalogDir = join(dir, 'catalog');
  const url = await emptyDatabase(serverUrl, 'strata_bench_scale_api');
  const env = { ...process.env, DATABASE_URL: url, STRATA_HOME: home };
  const csv = join(dir, 'api-points.csv');
  await writeFile(csv, pointsCsv(apiPoints, 0));
  const cli = (args: string[]) =>
    timed(process.execPath, [STRATA, '--home', home, '--catalog', catalogDir, ...args], { env });
  await cli(['ingest', DATASET(0), csv]);
  await cli(['build', PRODUCT(0)]);
  const { doc, issued } = addPartner(emptyDirectory(), 'bench', {
    scopes: [`read:products/${PRODUCT(0)}`],
    requestsPerSecond: 1_000_000,
  });
  await writeFile(join(home, 'partners.json'), JSON.stringify(doc), { mode: 0o600 });
  const apiKey = issued.apiKey?.key;
  if (!apiKey) throw new Error('the partner was made without an API key');
  const script = join(dir, 'wrk.lua');
  await writeFile(script, WRK_SCRIPT);

  const serve = await startServe(home, catalogDir, env, 1);
  const rows: ApiRow[] = [];
  try {
    const base = `http://127.0.0.1:${serve.port}/collections/${COLLECTION}/items`;
    const pages = { items: `${base}?limit=100`, bbox: `${base}?limit=100&bbox=${BBOX}` } as const;
    for (const [page, target] of Object.entries(pages) as ['items' | 'bbox', string][]) {
      const probe = await fetch(target, { headers: { 'X-API-Key': apiKey } });
      if (!probe.ok) throw new Error(`${target}: ${probe.status} ${await probe.text()}`);
      for (const c of connections) {
        const { stdout } = await timed(
          'wrk',
          [
            '-t',
            String(Math.min(2, c)),
            '-c',
            String(c),
            '-d',
            `${wrkSeconds}s`,
            '--timeout',
            '10s',
            '-s',
            script,
            target,
          ],
          { env: { ...process.env, BENCH_API_KEY: apiKey } },
        );
        const line = stdout.trim().split('\n').at(-1)!;
        const w = JSON.parse(line) as {
          requests: number;
          us: number;
          p50: number;
          p95: number;
          errors: number;
        };
        const row: ApiRow = {
          page,
          connections: c,
          requestsPerSecond: Math.round(w.requests / (w.us / 1e6)),
          p50Ms: Number((w.p50 / 1000).toFixed(1)),
          p95Ms: Number((w.p95 / 1000).toFixed(1)),
          errors: w.errors,
        };
        process.stderr.write(
          `  ${page.padEnd(5)} page, ${String(c).padStart(3)} connections: ${String(row.requestsPerSecond).padStart(5)} requests/s, p50 ${row.p50Ms} ms, p95 ${row.p95Ms} ms${row.errors ? `, ${row.errors} errors` : ''}\n`,
        );
        rows.push(row);
      }
    }
  } finally {
    await serve.stop();
  }
  return rows;
}

/** Both curves as an SVG page, screenshotted by Debian's Chromium into a PNG. */
export async function scaleChart(
  result: Omit<ScaleResult, 'chart'>,
  path: string,
): Promise<string | undefined> {
  const executablePath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
  if (!executablePath) return undefined;
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 360 } });
    await page.setContent(chartHtml(result));
    await page.screenshot({ path, fullPage: true });
    return path;
  } finally {
    await browser.close();
  }
}

function axes(
  x0: number,
  y0: number,
  w: number,
  h: number,
  xs: number[],
  yMax: number,
  xLabel: string,
  yLabel: string,
): string {
  const ticks = 5;
  const parts = [`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#999"/>`];
  for (let i = 0; i <= ticks; i++) {
    const v = (yMax / ticks) * i;
    const y = y0 + h - (h * i) / ticks;
    parts.push(`<line x1="${x0}" x2="${x0 + w}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${x0 - 6}" y="${y + 4}" text-anchor="end">${Math.round(v)}</text>`);
  }
  xs.forEach((x, i) => {
    const px = x0 + (w * i) / Math.max(1, xs.length - 1);
    parts.push(`<text x="${px}" y="${y0 + h + 16}" text-anchor="middle">${x}</text>`);
  });
  parts.push(`<text x="${x0 + w / 2}" y="${y0 + h + 34}" text-anchor="middle">${xLabel}</text>`);
  parts.push(
    `<text x="${x0 - 42}" y="${y0 + h / 2}" text-anchor="middle" transform="rotate(-90 ${x0 - 42} ${y0 + h / 2})">${yLabel}</text>`,
  );
  return parts.join('');
}

function line(
  x0: number,
  y0: number,
  w: number,
  h: number,
  ys: number[],
  yMax: number,
  colour: string,
  label: string,
  at: number,
): string {
  const pts = ys.map((v, i) => [x0 + (w * i) / Math.max(1, ys.length - 1), y0 + h - (h * v) / yMax] as const);
  return `<polyline fill="none" stroke="${colour}" stroke-width="2.5" points="${pts.map((p) => p.join(',')).join(' ')}"/>${pts
    .map(([x, y]) => `<circle cx="${x}" cy="${y}" r="3.5" fill="${colour}"/>`)
    .join('')}<text x="${x0 + 10}" y="${y0 + 16 + at * 16}" fill="${colour}">${label}</text>`;
}

function chartHtml(r: Omit<ScaleResult, 'chart'>): string {
  const W = 380;
  const H = 260;
  const jobs = r.workers.map((w) => w.jobsPerMinute);
  const maxJobs = Math.max(10, ...jobs) * 1.15;
  // CPU on a scale of its own, at the right: cores busy, up to the machine's.
  const maxCores = Math.max(availableParallelism(), ...r.workers.map((w) => w.dbCores + w.serveCores));
  const asJobs = (cores: number) => (cores / maxCores) * maxJobs;
  const coreTicks = Array.from({ length: 6 }, (_, i) => {
    const y = 40 + H - (H * i) / 5;
    return `<text x="${70 + W + 6}" y="${y + 4}">${((maxCores / 5) * i).toFixed(1)}</text>`;
  }).join('');
  const items = r.api.filter((a) => a.page === 'items');
  const bbox = r.api.filter((a) => a.page === 'bbox');
  const maxRps = Math.max(10, ...r.api.map((a) => a.requestsPerSecond)) * 1.15;
  const left = `<g>${axes(
    70,
    40,
    W,
    H,
    r.workers.map((w) => w.workers),
    maxJobs,
    'strata serve --workers N',
    'jobs a minute',
  )}${coreTicks}
    <text x="${70 + W + 40}" y="${40 + H / 2}" text-anchor="middle" transform="rotate(90 ${70 + W + 40} ${40 + H / 2})">cores busy (right scale)</text>
    ${line(70, 40, W, H, jobs, maxJobs, '#1f6feb', 'jobs a minute', 0)}
    ${line(
      70,
      40,
      W,
      H,
      r.workers.map((w) => asJobs(w.dbCores)),
      maxJobs,
      '#d73a49',
      'PostgreSQL server, cores (right)',
      1,
    )}
    ${line(
      70,
      40,
      W,
      H,
      r.workers.map((w) => asJobs(w.serveCores)),
      maxJobs,
      '#8250df',
      'strata serve, cores (right)',
      2,
    )}
    <text x="70" y="24" font-weight="bold">${r.submitted.ingests} ingests + ${r.submitted.builds} builds (+ rebuilds), one PostgreSQL server</text></g>`;
  const right = `<g>${axes(
    560,
    40,
    W,
    H,
    items.map((a) => a.connections),
    maxRps,
    'wrk connections',
    'requests a second',
  )}
    ${[items, bbox]
      .map((series, at) =>
        line(
          560,
          40,
          W,
          H,
          series.map((a) => a.requestsPerSecond),
          maxRps,
          ['#1f6feb', '#2da44e'][at]!,
          `${series[0]?.page} page (p95 at ${series.at(-1)?.connections}: ${series.at(-1)?.p95Ms} ms)`,
          at,
        ),
      )
      .join('')}
    <text x="560" y="24" font-weight="bold">partner API of strata serve, ${r.apiPoints.toLocaleString('en')} points, 100 a page</text></g>`;
  return `<!doctype html><html><body style="margin:0;background:#fff"><svg xmlns="http://www.w3.org/2000/svg" width="1000" height="360" font-family="sans-serif" font-size="12">${left}${right}</svg></body></html>`;
}

export async function benchScale(options: ScaleOptions): Promise<ScaleResult> {
  const workers = options.workers ?? [1, 2, 4, 8];
  const ingests = options.ingests ?? 200;
  const builds = options.builds ?? 50;
  const rows = options.rows ?? 2000;
  const apiPoints = options.apiPoints ?? 200_000;
  const dir = await mkdtemp(join(tmpdir(), 'strata-bench-scale-'));
  try {
    await writeCatalog(join(dir, 'catalog'));
    // The first files are the untimed ingests the products need before they build; then `ingests` more.
    const files: string[] = [];
    for (let k = 0; k < ingests + PAIRS; k++) {
      const path = join(dir, 'files', `points-${k}.csv`);
      await mkdir(join(dir, 'files'), { recursive: true });
      await writeFile(path, pointsCsv(rows, k + 1));
      files.push(path);
    }
    process.stderr.write(
      `\nscale: ${ingests} ingests of ${rows.toLocaleString('en')} points and ${builds} builds, by strata serve --workers N\n`,
    );
    const workerRows: WorkersRow[] = [];
    for (const n of workers) workerRows.push(await workersRow(dir, files, options.serverUrl, n, builds));
    process.stderr.write(`scale: the partner API of strata serve under wrk\n`);
    const api = await apiRows(
      dir,
      options.serverUrl,
      apiPoints,
      options.connections ?? [1, 8, 32, 128],
      options.wrkSeconds ?? 10,
    );
    const result = { submitted: { ingests, builds }, rows, apiPoints, workers: workerRows, api };
    const png = await scaleChart(result, join(options.out, 'scale.png'));
    if (png) process.stderr.write(`  chart: ${png}\n`);
    return { ...result, chart: png };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The part's sizes from BENCH_SCALE_* (see the top of this file); unset ones keep the defaults. */
export function scaleOptionsFromEnv(out: string, serverUrl: string): ScaleOptions {
  const num = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  const list = (name: string) => process.env[name]?.split(',').map(Number);
  return {
    out,
    serverUrl,
    workers: list('BENCH_SCALE_WORKERS'),
    ingests: num('BENCH_SCALE_INGESTS'),
    builds: num('BENCH_SCALE_BUILDS'),
    rows: num('BENCH_SCALE_ROWS'),
    apiPoints: num('BENCH_SCALE_API_POINTS'),
    connections: list('BENCH_SCALE_CONNECTIONS'),
    wrkSeconds: num('BENCH_SCALE_WRK_SECONDS'),
  };
}

// `npm run bench:scale`: this part alone, its result in bench/out/scale.json.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { serverForBench } = await import('./postgres.ts');
  const out = fileURLToPath(new URL('./out/', import.meta.url));
  await mkdir(out, { recursive: true });
  const server = await serverForBench();
  try {
    const result = await benchScale(scaleOptionsFromEnv(out, server.url));
    writeFileSync(join(out, 'scale.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    server.stop();
  }
}
