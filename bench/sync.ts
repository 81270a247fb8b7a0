// The partner's side of change feeds: a product of BENCH_SYNC_POINTS points (default 1,000,000) is published,
// copied once with `strata sync`, published again with 1% of its rows changed (0.5% changed, 0.25% removed,
// 0.25% added); then, side by side, `strata sync` (only the changes, into the GeoPackage it keeps), a full
// download of the collection through the API (every items page, Hawk-signed, as a client without feeds
// pages), and the download of the published GeoPackage. Bytes are the answers' bodies. Goals: the sync
// moves under 3% of the full download's bytes in under 10% of its time, and the copy equals the published
// file row for row (key and geometry). Runs inside `npm run bench` (BENCH_PARTS=sync) or alone:
// `npm run bench:sync`.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureBundle } from '../bin/bundle.mjs';
import { FsObjectStore } from '../runtime/adapters/local/fs-object-store.ts';
import { MemoryNonceStore, MemoryRateLimiter } from '../runtime/adapters/local/memory-guards.ts';
import { PartnerEnv } from '../runtime/adapters/local/partner-file.ts';
import { TableJobQueue } from '../runtime/adapters/local/table-job-queue.ts';
import { PgDatabase } from '../runtime/adapters/postgres/pg-database.ts';
import { Dataset, Product } from '../runtime/catalog/schema.ts';
import type { Catalog } from '../runtime/catalog-files/loader.ts';
import { migrate } from '../runtime/db/migrate.ts';
import { createApp } from '../runtime/http/app.ts';
import { nodeServer } from '../runtime/http/node.ts';
import { workUntil } from '../runtime/jobs/execute.ts';
import { runIngest } from '../runtime/jobs/ingest.ts';
import { submit } from '../runtime/jobs/submit.ts';
import { addPartner } from '../runtime/partners/admin.ts';
import { emptyDirectory } from '../runtime/partners/credentials.ts';
import type { Platform } from '../runtime/platform/platform.ts';
import { readManifest } from '../runtime/publish/versions.ts';
import { RunRegistry } from '../runtime/runs/registry.ts';
import { PartnerClient } from '../runtime/sync/client.ts';
import type { SyncResult } from '../runtime/sync/sync.ts';
import { LocalUrlSigner } from '../runtime/web/urls.ts';
import { writePointsCsv } from './data.ts';
import { emptyDatabase, serverForBench } from './postgres.ts';

const OUT = fileURLToPath(new URL('./out/', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PRODUCT = 'bench_sync';
const OUTPUT = 'points_out';
const COLLECTION = `${PRODUCT}.${OUTPUT}`;
export const GOALS = { bytes: 0.03, time: 0.1 } as const;

export interface SyncBenchResult {
  readonly points: number;
  readonly changes: { changed: number; removed: number; added: number };
  /** The feed's cost at publish: the build's time writing it, in ms. */
  readonly feedMs: number;
  readonly sync: { seconds: number; bytes: number; requests: number };
  readonly items: { seconds: number; bytes: number; requests: number };
  readonly gpkg: { seconds: number; bytes: number };
  readonly bytesRatio: number;
  readonly timeRatio: number;
  readonly equal: boolean;
}

/** 1% of the rows: every 200th changes value and moves, every 400th (offset 1) goes, and as many come. */
async function writeChanged(from: string, to: string) {
  const counts = { changed: 0, removed: 0, added: 0 };
  const out: string[] = [];
  let last = 0;
  for await (const line of createInterface({
    input: createReadStream(from),
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    if (out.length === 0) {
      out.push(line);
      continue;
    }
    const id = Number(line.slice(0, line.indexOf(',')));
    last = Math.max(last, id);
    if (id % 400 === 1) {
      counts.removed++;
      continue;
    }
    if (id % 200 === 0) {
      const f = line.split(',');
      f[f.length - 3] = (Number(f[f.length - 3]) + 1).toFixed(2);
      f[f.length - 2] = (Number(f[f.length - 2]) + 0.001).toFixed(6);
      counts.changed++;
      out.push(f.join(','));
      continue;
    }
    out.push(line);
  }
  for (let i = 1; i <= counts.removed; i++) {
    out.push(
      `${last + i},added ${i},new,${(i % 1000).toFixed(2)},${(-2 + (i % 100) / 50).toFixed(6)},${(52 + (i % 97) / 50).toFixed(6)}`,
    );
    counts.added++;
  }
  writeFileSync(to, `${out.join('\n')}\n`);
  return counts;
}

function catalogOf(): Catalog {
  const dataset = Dataset.parse({
    name: 'bench_sync_points',
    format: 'csv',
    columns: [
      { name: 'id', type: 'integer', required: true },
      { name: 'name', type: 'text' },
      { name: 'category', type: 'text' },
      { name: 'value', type: 'double' },
      { name: 'lon', type: 'double' },
      { name: 'lat', type: 'double' },
    ],
    geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat' },
  });
  const product = Product.parse({
    name: PRODUCT,
    inputs: { points: dataset.name },
    outputs: [{ table: OUTPUT, key: ['id'], formats: ['flatgeobuf', 'gpkg'] }],
  });
  const sql = `CREATE TABLE ${OUTPUT} AS SELECT id, name, category, value, geom FROM points;`;
  return {
    dir: tmpdir(),
    datasets: new Map([[dataset.name, dataset]]),
    products: new Map([[PRODUCT, { product, dir: tmpdir(), steps: [{ file: '010_out.sql', sql }] }]]),
  };
}

async function publish(p: Platform, catalog: Catalog, csv: string) {
  await runIngest(p, catalog, {
    dataset: 'bench_sync_points',
    path: csv,
    filename: 'points.csv',
    origin: { kind: 'file', from: csv },
  });
  const run = await workUntil(
    p,
    catalog,
    (await submit(p, { kind: 'build', product: PRODUCT }, { kind: 'cli' })).id,
  );
  if (run.status !== 'succeeded') throw new Error(`build failed: ${JSON.stringify(run.error)}`);
  return readManifest(p.store, PRODUCT);
}

/** `strata sync` as a partner runs it, in a process of its own; its own account of bytes and requests. */
function strataSync(cli: string, base: string, into: string, hawk: { id: string; key: string }) {
  return new Promise<{ result: SyncResult; seconds: number }>((resolve, reject) => {
    const started = performance.now();
    const child = spawn('node', [cli, '--json', 'sync', base, COLLECTION, '--into', into], {
      env: { ...process.env, STRATA_HAWK_ID: hawk.id, STRATA_HAWK_KEY: hawk.key },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve({ result: JSON.parse(out) as SyncResult, seconds: (performance.now() - started) / 1000 })
        : reject(new Error(`strata sync exited ${code}`)),
    );
  });
}

/** Every items page of the version, as a client without feeds takes a copy. */
async function fullDownload(client: PartnerClient, version: string) {
  const started = performance.now();
  const before = { ...client.traffic };
  type Page = { links: { rel: string; href: string }[] };
  for (let url: string | undefined = `/collections/${COLLECTION}.${version}/items?limit=10000`; url; ) {
    const page: Page = await client.get<Page>(url);
    url = page.links.find((l) => l.rel === 'next')?.href;
  }
  return {
    seconds: (performance.now() - started) / 1000,
    bytes: client.traffic.bytes - before.bytes,
    requests: client.traffic.requests - before.requests,
  };
}

/** The published GeoPackage, through the API's download (a 302 to a signed URL), counted as it streams. */
async function gpkgDownload(base: string, apiKey: string, version: string) {
  const started = performance.now();
  const res = await fetch(`${base}/products/${PRODUCT}/versions/${version}/outputs/${OUTPUT}?format=gpkg`, {
    headers: { 'X-API-Key': apiKey },
  });
  if (!res.ok || !res.body) throw new Error(`GeoPackage download: ${res.status}`);
  let bytes = 0;
  for await (const chunk of res.body) bytes += (chunk as Uint8Array).length;
  return { seconds: (performance.now() - started) / 1000, bytes };
}

/** sha256 of every row's key and geometry (WKB), by key, as GDAL reads them from a GeoPackage. */
function rowsHash(file: string, layer: string): Promise<{ rows: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const sql = `SELECT id, hex(ST_AsBinary(geom)) FROM "${layer}" ORDER BY id`;
    const child = spawn('ogr2ogr', ['-f', 'CSV', '/vsistdout/', file, '-dialect', 'SQLite', '-sql', sql]);
    const hash = createHash('sha256');
    let rows = -1;
    child.stdout.on('data', (d: Buffer) => {
      hash.update(d);
      for (const b of d) if (b === 10) rows++;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve({ rows, sha256: hash.digest('hex') })
        : reject(new Error(`ogr2ogr exited ${code}`)),
    );
  });
}

async function platformOn(url: string, buckets: string): Promise<Platform> {
  const db = await PgDatabase.open(await emptyDatabase(url, 'strata_bench_sync'));
  await migrate(db);
  return {
    db,
    store: new FsObjectStore(buckets),
    queue: new TableJobQueue(db),
    runs: new RunRegistry(db),
    close: () => db.close(),
  };
}

/** Runs the part on the server at `url` and prints the figures. */
export async function benchSync(url: string, points: number): Promise<SyncBenchResult> {
  mkdirSync(OUT, { recursive: true });
  const v1csv = join(OUT, `points-${points}.csv`);
  const v2csv = join(OUT, `points-${points}-sync.csv`);
  if (!existsSync(v1csv)) await writePointsCsv(v1csv, points);
  const changes = await writeChanged(v1csv, v2csv);
  const buckets = join(OUT, 'sync-buckets');
  rmSync(buckets, { recursive: true, force: true });
  const p = await platformOn(url, buckets);
  const catalog = catalogOf();
  const { doc, issued } = addPartner(emptyDirectory(), 'bench', {
    scopes: [`read:products/${PRODUCT}`],
    requestsPerSecond: 1_000_000,
  });
  const hawk = issued.hawk!;
  const app = createApp({
    catalog,
    store: p.store,
    runs: p.runs,
    queue: p.queue,
    partners: new PartnerEnv(JSON.stringify(doc)),
    nonces: new MemoryNonceStore(),
    rateLimiter: new MemoryRateLimiter(),
    urls: new LocalUrlSigner({ download: 300, upload: 900 }),
    maxUploadBytes: 1,
    // The local door's own download URLs, which stand in for S3's presigned ones.
    local: { webhookSecrets: new Map(), operatorsOnLoopback: false },
  });
  const server = nodeServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let copyDir: string | undefined;
  try {
    const cli = join(ROOT, 'bin', 'strata.mjs');
    await ensureBundle();
    process.stderr.write(
      `\nstrata sync of a ${points.toLocaleString('en')}-point product, 1% of rows changed\n`,
    );
    await publish(p, catalog, v1csv);
    copyDir = await mkdtemp(join(tmpdir(), 'strata-bench-sync-'));
    const copy = join(copyDir, 'copy.gpkg');
    const first = await strataSync(cli, base, copy, hawk);
    process.stderr.write(
      `  first sync (a full copy): ${first.result.features} features, ${first.seconds.toFixed(1)} s\n`,
    );
    const v2 = await publish(p, catalog, v2csv);
    const sync = await strataSync(cli, base, copy, hawk);
    if (sync.result.mode !== 'changes')
      throw new Error(`the second sync was ${sync.result.mode}, not changes`);
    const client = new PartnerClient(base, { hawk });
    const items = await fullDownload(client, v2.version);
    const gpkg = await gpkgDownload(base, issued.apiKey!.key, v2.version);
    const published = v2.outputs.find((o) => o.format === 'gpkg')!;
    const [mine, theirs] = await Promise.all([
      rowsHash(copy, OUTPUT),
      rowsHash(p.store.locate('egress', published.key), OUTPUT),
    ]);
    const result: SyncBenchResult = {
      points,
      changes,
      feedMs: v2.timings.changesMs ?? 0,
      sync: { seconds: sync.seconds, bytes: sync.result.bytes, requests: sync.result.requests },
      items,
      gpkg,
      bytesRatio: sync.result.bytes / items.bytes,
      timeRatio: sync.seconds / items.seconds,
      equal: mine.rows === theirs.rows && mine.sha256 === theirs.sha256,
    };
    printSync(result);
    writeFileSync(join(OUT, 'sync.json'), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    server.close();
    await p.close();
    if (copyDir) rmSync(copyDir, { recursive: true, force: true });
  }
}

const mb = (n: number) => `${(n / 1e6).toFixed(2).padStart(8)} MB`;

export function printSync(r: SyncBenchResult): void {
  const line = (label: string, x: { seconds: number; bytes: number }) =>
    process.stderr.write(`  ${label.padEnd(52)} ${mb(x.bytes)} ${x.seconds.toFixed(2).padStart(7)} s\n`);
  process.stderr.write(
    `  changes: ${r.changes.changed} changed, ${r.changes.removed} removed, ${r.changes.added} added; the feed took ${(r.feedMs / 1000).toFixed(2)} s at publish\n`,
  );
  line(`strata sync (changes, ${r.sync.requests} requests)`, r.sync);
  line(`full download through the API (${r.items.requests} items pages)`, r.items);
  line('the published GeoPackage', r.gpkg);
  const ok = (v: number, goal: number) =>
    `${(100 * v).toFixed(2).padStart(6)}% (goal < ${100 * goal}%) ${v < goal ? 'ok' : 'MISSED'}`;
  process.stderr.write(
    `  sync bytes / full download bytes ${' '.repeat(19)} ${ok(r.bytesRatio, GOALS.bytes)}\n`,
  );
  process.stderr.write(`  sync time / full download time ${' '.repeat(21)} ${ok(r.timeRatio, GOALS.time)}\n`);
  process.stderr.write(
    `  sync bytes / GeoPackage bytes ${' '.repeat(22)} ${(100 * (r.sync.bytes / r.gpkg.bytes)).toFixed(2).padStart(6)}%\n`,
  );
  process.stderr.write(
    `  the synced copy equals the published GeoPackage by key and geometry: ${r.equal ? 'yes' : 'NO'}\n`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const server = await serverForBench();
  try {
    const r = await benchSync(server.url, Number(process.env.BENCH_SYNC_POINTS ?? 1_000_000));
    if (!r.equal) process.exitCode = 1;
  } finally {
    server.stop();
  }
}
