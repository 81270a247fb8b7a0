// One measured Strata operation in its own process, so its peak RSS is its own. Prints one JSON line.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../runtime/adapters/local/fs-object-store.ts';
import { PgDatabase } from '../runtime/adapters/postgres/pg-database.ts';
import { archiveFile } from '../runtime/archive/archive.ts';
import { Dataset, Output, type OutputFormat } from '../runtime/catalog/schema.ts';
import { migrate } from '../runtime/db/migrate.ts';
import { type LoadOptions, loadVersion } from '../runtime/load/load.ts';
import { exportOutput } from '../runtime/publish/export.ts';

const [mode, ...args] = process.argv.slice(2);

/** Archives and loads a file as an ingest does, timing each; prints one JSON line. */
async function timedLoad(dataset: Dataset, path: string, options: LoadOptions): Promise<void> {
  const children = childRss();
  let t = performance.now();
  const { version } = await archiveFile(db, store, {
    dataset: dataset.name,
    path,
    origin: { kind: 'file', from: path },
  });
  const archiveMs = performance.now() - t;
  t = performance.now();
  const r = await loadVersion(db, store, dataset, version, options);
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

if (mode === 'load') {
  const [format, path, name, index] = args as [string, string, string, string];
  const dataset = Dataset.parse(
    format === 'csv'
      ? {
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
        }
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
} else {
  throw new Error(`unknown mode ${mode}`);
}
await db.close();
