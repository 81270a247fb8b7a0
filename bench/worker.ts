// One measured Strata operation in its own process, so its peak RSS is its own. Prints one JSON line.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../runtime/adapters/local/fs-object-store.ts';
import { TableJobQueue } from '../runtime/adapters/local/table-job-queue.ts';
import { PgDatabase } from '../runtime/adapters/postgres/pg-database.ts';
import { archiveFile, receiveFile } from '../runtime/archive/archive.ts';
import { Dataset, Output, type OutputFormat, Product } from '../runtime/catalog/schema.ts';
import type { Catalog } from '../runtime/catalog-files/loader.ts';
import { loadUnderContract } from '../runtime/contracts/load-under-contract.ts';
import { migrate } from '../runtime/db/migrate.ts';
import { workUntil } from '../runtime/jobs/execute.ts';
import { runIngest } from '../runtime/jobs/ingest.ts';
import { submit } from '../runtime/jobs/submit.ts';
import { loadVersion } from '../runtime/load/load.ts';
import type { Platform } from '../runtime/platform/platform.ts';
import { readJson } from '../runtime/ports/object-store.ts';
import { exportOutput } from '../runtime/publish/export.ts';
import { readManifest } from '../runtime/publish/versions.ts';
import type { QaReport } from '../runtime/qa/schema.ts';
import { RunRegistry } from '../runtime/runs/registry.ts';

const [mode, ...args] = process.argv.slice(2);

/**
 * Archives and loads a file as an ingest does, timing each; prints one JSON line. The load is under the
 * dataset's contract, as an ingest's is (BENCH_CONTRACT=off: the bare load of an archived version, to measure
 * what the contract costs).
 */
async function timedLoad(dataset: Dataset, path: string, options: { index?: boolean }): Promise<void> {
  const contract = process.env.BENCH_CONTRACT !== 'off';
  const origin = { kind: 'file' as const, from: path };
  const children = childRss();
  let t = performance.now();
  const { version } = contract
    ? await receiveFile(db, store, { dataset: dataset.name, path, origin })
    : await archiveFile(db, store, { dataset: dataset.name, path, origin });
  const archiveMs = performance.now() - t;
  t = performance.now();
  const r = contract
    ? (
        await loadUnderContract(db, store, {
          dataset,
          version,
          kind: 'sent',
          actor: { trigger: 'bench' },
          index: options.index,
        })
      ).loaded
    : await loadVersion(db, store, dataset, version, options);
  const loadMs = performance.now() - t;
  process.stdout.write(
    `${JSON.stringify({ archiveMs, loadMs, rows: r.rows, table: r.table, rssMb: rssMb(), childRssMb: children.stop() })}\n`,
  );
}
const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required');
// The pool the command line opens, so a large CSV loads as it would there (several COPY statements at once).
const db = await PgDatabase.open(url);
await migrate(db);
const store = new FsObjectStore(await mkdtemp(join(tmpdir(), 'strata-bench-')));
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

/**
 * The largest resident set of any process this one starts (ogr2ogr), sampled from /proc every 20 ms: the
 * kernel keeps no peak for children that are still running, and Strata's work is shared with them.
 */
function childRss(): { stop: () => number } {
  let peak = 0;
  const children = (pid: number): number[] => {
    try {
      const tasks = readdirSync(`/proc/${pid}/task`);
      const kids = tasks.flatMap((t) =>
        readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/),
      );
      return kids
        .filter(Boolean)
        .map(Number)
        .flatMap((k) => [k, ...children(k)]);
    } catch {
      return [];
    }
  };
  const timer = setInterval(() => {
    for (const pid of children(process.pid)) {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      peak = Math.max(peak, Math.round(kb / 1024));
    }
  }, 20).unref();
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

/** The points CSV of bench/data.ts as a dataset. */
const pointsDataset = (name: string) => ({
  name,
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

if (mode === 'load') {
  const [format, path, name, index] = args as [string, string, string, string];
  const dataset = Dataset.parse(
    format === 'csv'
      ? pointsDataset(name)
      : {
          name,
          format: 'geojson',
          columns: [
            { name: 'id', type: 'integer', required: true },
            { name: 'name', type: 'text' },
            { name: 'value', type: 'double' },
          ],
          geometry: { kind: 'geojson', type: 'Polygon' },
        },
  );
  await timedLoad(dataset, path, { index: index === 'index' });
} else if (mode === 'ingest') {
  // A format read through GDAL, in EPSG:27700, as `strata ingest` does it: archive, load, transform, index.
  const [format, path, name, targetSrid, type] = args as [string, string, string, string, string];
  const columns =
    type === 'Point'
      ? [
          { name: 'id', type: 'integer', required: true },
          { name: 'name', type: 'text' },
          { name: 'category', type: 'text' },
          { name: 'value', type: 'double' },
        ]
      : [
          { name: 'id', type: 'integer', required: true },
          { name: 'name', type: 'text' },
          { name: 'value', type: 'double' },
        ];
  const dataset = Dataset.parse({
    name,
    format,
    columns,
    geometry: { kind: 'geojson', type, sourceSrid: 27700, targetSrid: Number(targetSrid) },
  });
  await timedLoad(dataset, path, {});
} else if (mode === 'export') {
  const [schema, table, format] = args as [string, string, OutputFormat];
  // Version tables are named `<dataset>@<version>`, outside what a catalog output name may be.
  const output = {
    ...Output.parse({ table: 'bench', formats: [format] }),
    table,
    name: 'bench',
    orderBy: [],
  };
  const children = childRss();
  const t = performance.now();
  const f = await exportOutput(db, store, {
    schema,
    output,
    format,
    prefix: 'bench/',
  });
  const ms = performance.now() - t;
  process.stdout.write(
    `${JSON.stringify({ ms, rows: f.rows, size: f.size, rssMb: rssMb(), childRssMb: children.stop() })}\n`,
  );
} else if (mode === 'qa') {
  // Two builds of a product whose output is the points as loaded, the second after some rows changed: the
  // QA report's share of each build, as its manifest's timings say.
  const [v1, v2, name] = args as [string, string, string];
  const dataset = Dataset.parse(pointsDataset(name));
  const product = Product.parse({
    name: `${name}_qa`,
    inputs: { points: name },
    checks: [
      { type: 'unique', table: 'points_out', columns: ['id'] },
      { type: 'geometry_valid', table: 'points_out' },
    ],
    outputs: [{ table: 'points_out', key: ['id'], orderBy: ['id'] }],
  });
  const catalog: Catalog = {
    dir: tmpdir(),
    datasets: new Map([[name, dataset]]),
    products: new Map([
      [
        product.name,
        {
          product,
          dir: tmpdir(),
          steps: [
            {
              file: '010_out.sql',
              sql: 'CREATE TABLE points_out AS SELECT id, name, category, value, geom FROM points;',
            },
          ],
        },
      ],
    ]),
  };
  const p: Platform = {
    db,
    store,
    queue: new TableJobQueue(db),
    runs: new RunRegistry(db),
    close: () => db.close(),
  };
  const builds = [];
  for (const path of [v1, v2]) {
    await runIngest(p, catalog, {
      dataset: name,
      path,
      filename: 'points.csv',
      origin: { kind: 'file', from: path },
    });
    const run = await workUntil(
      p,
      catalog,
      (await submit(p, { kind: 'build', product: product.name }, { kind: 'cli' })).id,
    );
    if (run.status !== 'succeeded') throw new Error(`build failed: ${JSON.stringify(run.error)}`);
    const m = await readManifest(store, product.name);
    const report = await readJson<QaReport>(store, 'egress', m.qa!.json);
    builds.push({ ...m.timings, qa: m.qa?.outputs[0], parts: report.outputs[0]?.ms });
  }
  process.stdout.write(`${JSON.stringify({ builds, rssMb: rssMb() })}\n`);
} else {
  throw new Error(`unknown mode ${mode}`);
}
await db.close();
