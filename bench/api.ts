// The partner API's part of `npm run bench`: a page of 1,000 features (and a bbox page) from a published
// 1,000,000-point version, served by `strata serve`'s application through HTTP with Hawk, beside the floor
// (the same features read straight from the file, no HTTP); then the server's peak RSS while ten clients
// page through the whole collection at once.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as Hawk from 'hawk';
import { FsObjectStore } from '../runtime/adapters/local/fs-object-store.ts';
import { type Bbox, FlatGeobufFile } from '../runtime/features/flatgeobuf.ts';
import { addPartner } from '../runtime/partners/admin.ts';
import { emptyDirectory } from '../runtime/partners/credentials.ts';
import { timed } from './spawn.ts';

const PRODUCT = 'bench_points';
const OUTPUT = 'points';
const VERSION = '20261123T000000000Z-bench001';
const LIMIT = 1000;
/** About 6% of the points (2° by 2° of the 7.8° by 8.6° they cover). */
const BBOX: Bbox = [-3, 53, -1, 55];

/** Latencies of one kind of page, in ms: through HTTP, and the two floors read in-process. */
export interface PageStats {
  readonly p50: number;
  readonly p95: number;
  /** The same features read from the file and decoded (the reader alone). */
  readonly decodeP50: number;
  readonly decodeP95: number;
  /** ...and written as the GeoJSON text a response carries: the floor the target is set against. */
  readonly floorP50: number;
  readonly floorP95: number;
  /** p95 through HTTP over the floor's p95. */
  readonly ratio: number;
}

export interface ApiBenchResult {
  readonly points: number;
  readonly pages: number;
  readonly page: PageStats;
  readonly bboxPage: PageStats & { readonly matched: number };
  readonly tenClients: { seconds: number; features: number; serverRssMb: number };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)]!;
};

/** Publishes the points as a product version, with its FlatGeobuf made by ogr2ogr (kept between runs). */
async function publish(out: string, csv: string, points: number): Promise<{ buckets: string; fgb: string }> {
  const fgb = join(out, `points-${points}.fgb`);
  if (!existsSync(fgb)) {
    process.stderr.write(`  writing ${fgb} with ogr2ogr (once)\n`);
    await timed('ogr2ogr', [
      '-f',
      'FlatGeobuf',
      '-lco',
      'SPATIAL_INDEX=YES',
      '-oo',
      'X_POSSIBLE_NAMES=lon',
      '-oo',
      'Y_POSSIBLE_NAMES=lat',
      '-oo',
      'AUTODETECT_TYPE=YES',
      '-a_srs',
      'EPSG:4326',
      '-nln',
      OUTPUT,
      `${fgb}.tmp.fgb`,
      csv,
    ]);
    linkSync(`${fgb}.tmp.fgb`, fgb);
    rmSync(`${fgb}.tmp.fgb`);
  }
  const buckets = join(out, 'api-buckets');
  rmSync(buckets, { recursive: true, force: true });
  const dir = join(buckets, 'egress', 'products', PRODUCT, VERSION);
  mkdirSync(dir, { recursive: true });
  linkSync(fgb, join(dir, `${OUTPUT}.fgb`));
  const size = statSync(fgb).size;
  const key = `products/${PRODUCT}/${VERSION}/${OUTPUT}.fgb`;
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({
      product: PRODUCT,
      version: VERSION,
      runId: 'bench',
      builtAt: new Date().toISOString(),
      platform: { name: 'strata', version: 'bench', engine: 'bench' },
      inputs: [],
      steps: [],
      checks: [],
      outputs: [
        {
          name: OUTPUT,
          table: OUTPUT,
          format: 'flatgeobuf',
          key,
          size,
          sha256: createHash('sha256').update(readFileSync(fgb)).digest('hex'),
          rows: points,
          srid: 4326,
        },
      ],
      timings: {},
    }),
  );
  writeFileSync(
    join(buckets, 'egress', 'products', PRODUCT, 'latest.json'),
    JSON.stringify({
      product: PRODUCT,
      version: VERSION,
      manifest: `${key}`,
      publishedAt: new Date().toISOString(),
    }),
  );
  return { buckets, fgb };
}

type Credentials = { id: string; key: string; algorithm: 'sha256' };

/** One Hawk-signed GET, timed from sending to the last byte; the signed response is checked after the clock stops. */
async function signedGet(url: string, credentials: Credentials): Promise<{ ms: number; body: string }> {
  const { header, artifacts } = Hawk.client.header(url, 'GET', { credentials });
  const t = performance.now();
  const res = await fetch(url, { headers: { Authorization: header } });
  const body = await res.text();
  const ms = performance.now() - t;
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${body.slice(0, 300)}`);
  Hawk.client.authenticate(
    { headers: Object.fromEntries(res.headers) } as never,
    credentials as never,
    artifacts,
    {
      payload: body,
      required: true,
    },
  );
  return { ms, body };
}

interface Page {
  features: unknown[];
  numberMatched: number;
  links: { rel: string; href: string }[];
}
const nextOf = (page: Page) => page.links.find((l) => l.rel === 'next')?.href;

/**
 * Follows next links from `first` for at most `pages` pages; the time of each. `floor`, when given, reads the
 * same page straight from the file right after each request (features' ids are their positions) and the
 * features are then written as GeoJSON text, each timed: side by side, so this shared machine's drift
 * touches both alike.
 */
async function follow(
  first: string,
  pages: number,
  credentials: Credentials,
  floor?: (from: number, firstPage: boolean) => Promise<{ features: unknown[] }>,
) {
  const ms: number[] = [];
  const decodeMs: number[] = [];
  const floorMs: number[] = [];
  let features = 0;
  let matched = 0;
  for (let url: string | undefined = first; url && ms.length < pages; ) {
    const r = await signedGet(url, credentials);
    const page = JSON.parse(r.body) as Page;
    if (floor && page.features.length > 0) {
      const t = performance.now();
      const read = await floor((page.features[0] as { id: number }).id, ms.length === 0);
      const decoded = performance.now();
      JSON.stringify({ type: 'FeatureCollection', features: read.features });
      decodeMs.push(decoded - t);
      floorMs.push(performance.now() - t);
    }
    ms.push(r.ms);
    features += page.features.length;
    matched = page.numberMatched;
    url = nextOf(page);
  }
  return { ms, decodeMs, floorMs, features, matched };
}

export async function benchApi(options: {
  out: string;
  csv: string;
  points: number;
  server: string;
  pages: number;
}): Promise<ApiBenchResult> {
  const { buckets, fgb } = await publish(options.out, options.csv, options.points);
  const { doc, issued } = addPartner(emptyDirectory(), 'bench', {
    scopes: [`read:products/${PRODUCT}`],
    requestsPerSecond: 1_000_000,
  });
  const credentials: Credentials = { id: issued.hawk!.id, key: issued.hawk!.key, algorithm: 'sha256' };
  const child = spawn(
    'node',
    [
      ...(process.env.BENCH_API_PROFILE
        ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_API_PROFILE]
        : []),
      options.server,
      buckets,
      PRODUCT,
      OUTPUT,
    ],
    {
      env: { ...process.env, STRATA_PARTNERS: JSON.stringify(doc) },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const { port } = JSON.parse((await lines.next()).value as string) as { port: number };
  const base = `http://127.0.0.1:${port}/collections/${PRODUCT}.${OUTPUT}/items`;
  try {
    // Warm: the first requests open the file and fill the caches, as a running server has them.
    await follow(`${base}?limit=${LIMIT}`, 5, credentials);
    await follow(`${base}?limit=${LIMIT}&bbox=${BBOX.join(',')}`, 5, credentials);

    // The floor: the same pages read straight from the file, in this process, with the same reader.
    const store = new FsObjectStore(buckets);
    const key = `products/${PRODUCT}/${VERSION}/${OUTPUT}.fgb`;
    const file = await FlatGeobufFile.open((a, b) => store.getRange('egress', key, a, b), statSync(fgb).size);
    await file.countMeeting(BBOX);
    await file.page(0, LIMIT);

    process.stderr.write(
      `  ${options.pages} pages of ${LIMIT}, and ${options.pages} bbox pages, through HTTP with Hawk\n`,
    );
    const plain = await follow(`${base}?limit=${LIMIT}`, options.pages, credentials, (from) =>
      file.page(from, LIMIT),
    );
    const boxed = await follow(
      `${base}?limit=${LIMIT}&bbox=${BBOX.join(',')}`,
      options.pages,
      credentials,
      async (from, first) => {
        // The first page also counts what the bbox matches (numberMatched), as the server's does.
        if (first) await file.countMeeting(BBOX);
        return file.search(BBOX, from, LIMIT);
      },
    );
    process.stderr.write('  ten clients paging through the whole collection at once\n');
    const t = performance.now();
    const clients = await Promise.all(
      Array.from({ length: 10 }, () =>
        follow(`${base}?limit=${LIMIT}`, Number.POSITIVE_INFINITY, credentials),
      ),
    );
    const seconds = (performance.now() - t) / 1000;
    const served = clients.reduce((n, c) => n + c.features, 0);
    if (clients.some((c) => c.features !== options.points))
      throw new Error(
        `a client got ${clients.map((c) => c.features).join(', ')} features, not ${options.points}`,
      );

    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const { rssMb } = JSON.parse((await lines.next()).value as string) as { rssMb: number };
    await exited;
    const stats = (pages: { ms: number[]; decodeMs: number[]; floorMs: number[] }): PageStats => ({
      p50: quantile(pages.ms, 0.5),
      p95: quantile(pages.ms, 0.95),
      decodeP50: quantile(pages.decodeMs, 0.5),
      decodeP95: quantile(pages.decodeMs, 0.95),
      floorP50: quantile(pages.floorMs, 0.5),
      floorP95: quantile(pages.floorMs, 0.95),
      ratio: quantile(pages.ms, 0.95) / quantile(pages.floorMs, 0.95),
    });
    return {
      points: options.points,
      pages: plain.ms.length,
      page: stats(plain),
      bboxPage: { ...stats(boxed), matched: boxed.matched },
      tenClients: { seconds, features: served, serverRssMb: rssMb },
    };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

export function printApi(r: ApiBenchResult): void {
  const ms = (v: number) => `${v.toFixed(1).padStart(6)} ms`;
  const w = (s: string) => process.stderr.write(`${s}\n`);
  w(
    `\npartner API: ${r.points.toLocaleString('en')} points, ${r.pages} pages of ${LIMIT}; through HTTP with Hawk, ` +
      'beside the same features read from the file in-process (decoded; and written as GeoJSON: the floor)',
  );
  const line = (name: string, s: PageStats) =>
    w(
      `  ${name.padEnd(30)} p50 ${ms(s.p50)}  p95 ${ms(s.p95)}  | decoded p50 ${ms(s.decodeP50)}  p95 ${ms(s.decodeP95)}  | floor p50 ${ms(s.floorP50)}  p95 ${ms(s.floorP95)}`,
    );
  line('page', r.page);
  line(`bbox page (${r.bboxPage.matched.toLocaleString('en')} matched)`, r.bboxPage);
  const verdict = (s: PageStats) => (s.ratio <= 2 && s.p95 < 100 ? 'ok' : 'MISSED');
  for (const [name, s] of [
    ['page', r.page],
    ['bbox page', r.bboxPage],
  ] as const)
    w(
      `  ${`${name}: p95 over the floor's p95`.padEnd(30)} ${s.ratio.toFixed(2)}x (target <= 2x, and p95 < 100 ms) ${verdict(s)}   [over decoding alone: ${(s.p95 / s.decodeP95).toFixed(2)}x]`,
    );
  w(
    `  ${'ten clients, whole collection'.padEnd(30)} ${r.tenClients.seconds.toFixed(1)} s, ${r.tenClients.features.toLocaleString('en')} features; server peak RSS ${r.tenClients.serverRssMb} MB (target <= 256 MB) ${r.tenClients.serverRssMb <= 256 ? 'ok' : 'MISSED'}`,
  );
}
