// One measured Strata operation in its own process, so its peak RSS is its own. Prints one JSON line.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../runtime/adapters/local/fs-object-store.ts';
import { PgDatabase } from '../runtime/adapters/postgres/pg-database.ts';
import { archiveFile, receiveFile } from '../runtime/archive/archive.ts';
import { Dataset, Output } from '../runtime/catalog/schema.ts';
import { loadUnderContract } from '../runtime/contracts/load-under-contract.ts';
import { migrate } from '../runtime/db/migrate.ts';
import { loadVersion } from '../runtime/load/load.ts';
import { exportOutput } from '../runtime/publish/export.ts';

const [mode, ...args] = process.argv.slice(2);
const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required');
// The pool the command line opens, so a large CSV loads as it would there (several COPY statements at once).
const db = await PgDatabase.open(url);
await migrate(db);
const store = new FsObjectStore(await mkdtemp(join(tmpdir(), 'strata-bench-')));
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

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
  // As an ingest does it: received, then loaded under the dataset's contract (BENCH_CONTRACT=off: the bare
  // load of an archived version, to measure what the contract costs).
  const contract = process.env.BENCH_CONTRACT !== 'off';
  const origin = { kind: 'file' as const, from: path };
  let t = performance.now();
  const { version } = contract
    ? await receiveFile(db, store, { dataset: name, path, origin })
    : await archiveFile(db, store, { dataset: name, path, origin });
  const archiveMs = performance.now() - t;
  t = performance.now();
  const r = contract
    ? (
        await loadUnderContract(db, store, {
          dataset,
          version,
          kind: 'sent',
          actor: { trigger: 'bench' },
          index: index === 'index',
        })
      ).loaded
    : await loadVersion(db, store, dataset, version, { index: index === 'index' });
  const loadMs = performance.now() - t;
  process.stdout.write(
    `${JSON.stringify({ archiveMs, loadMs, rows: r.rows, table: r.table, rssMb: rssMb() })}\n`,
  );
} else if (mode === 'export') {
  const [schema, table, format] = args as [string, string, 'csv' | 'geojson'];
  // Version tables are named `<dataset>@<version>`, outside what a catalog output name may be.
  const output = {
    ...Output.parse({ table: 'bench', formats: [format] }),
    table,
    name: 'bench',
    orderBy: [],
  };
  const t = performance.now();
  const f = await exportOutput(db, store, {
    schema,
    output,
    format,
    prefix: 'bench/',
  });
  const ms = performance.now() - t;
  process.stdout.write(`${JSON.stringify({ ms, rows: f.rows, size: f.size, rssMb: rssMb() })}\n`);
} else {
  throw new Error(`unknown mode ${mode}`);
}
await db.close();
