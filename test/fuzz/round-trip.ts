import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { OutputFormat } from '../../runtime/catalog/schema.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { executeJob } from '../../runtime/jobs/execute.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { readManifest } from '../../runtime/publish/versions.ts';
import type { Run } from '../../runtime/runs/schema.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import type { TestPlatform } from '../helpers/engines.ts';
import { canon, canonTable, differences } from './equivalence.ts';
import { readGeoParquet, readTable, readWithGdal } from './read.ts';
import { INPUT_RULES, OUTPUT_RULES, outputsFor } from './rules.ts';
import type { Table } from './table.ts';
import { datasetDoc, type InputFormat, inputFile } from './write.ts';

/** How a published file is read back: by GDAL as a partner would, GeoParquet by a Parquet reader. */
async function readOutput(path: string, format: OutputFormat, layer: string) {
  switch (format) {
    case 'shapefile':
      return readWithGdal(`/vsizip/${path}/${layer}.shp`);
    case 'csv':
      // The published CSV carries WKT in a column named `geometry`.
      return readWithGdal(path, ['GEOM_POSSIBLE_NAMES=geometry', 'KEEP_GEOM_COLUMNS=NO']);
    case 'geoparquet':
      return readGeoParquet(path);
    default:
      return readWithGdal(path);
  }
}

/** Runs every queued job; returns the last run that built `product`. */
async function drain(p: TestPlatform, catalog: Catalog, product: string): Promise<Run | undefined> {
  let build: Run | undefined;
  for (let jobs = await p.queue.receive(10, 60); jobs.length > 0; jobs = await p.queue.receive(10, 60))
    for (const { job } of jobs) {
      const run = await executeJob(p, catalog, job);
      if (job.kind === 'build' && job.product === product) build = run;
    }
  return build;
}

let cases = 0;

/**
 * One case: the table written in `format`, ingested as the CLI does (archive, load, contract), built by a
 * product that copies it, published in every format the geometry type allows, and read back. Returns every
 * difference, each line saying where it appeared (empty: the round trip kept everything).
 */
export async function roundTrip(
  p: TestPlatform,
  t: Table,
  format: InputFormat,
  /** The formats to publish; by default every one the table can be published in. */
  outputs?: readonly OutputFormat[],
): Promise<string[]> {
  const n = ++cases;
  const dir = join(p.dir, `case-${n}`);
  await mkdir(dir, { recursive: true });
  const dataset = `fz${n}`;
  const product = `fz${n}_out`;
  const formats = outputs ?? outputsFor(t);
  const catalog = await writeCatalog(join(dir, 'catalog'), {
    datasets: { [dataset]: datasetDoc(t, format) },
    products: {
      [product]: {
        product: { inputs: { src: dataset }, outputs: [{ table: 'copy', formats, orderBy: ['rid'] }] },
        sql: {
          '010_copy.sql': 'CREATE TABLE copy AS SELECT rid, txt, num, big, dbl, day, flag, geom FROM src;',
        },
      },
    },
  });
  const path = await inputFile(dir, t, format);
  try {
    await runIngest(p, catalog, {
      dataset,
      path,
      filename: basename(path),
      origin: { kind: 'file', from: path },
    });
  } catch (e) {
    return [`${format} ingest refused: ${(e as Error).message}`];
  }
  const loaded = (await readTable(p.db, 'datasets', dataset)).map(canon);
  const found = differences(canonTable(t), loaded, INPUT_RULES[format], t.srid).map(
    (d) => `${format} ingest: ${d}`,
  );

  // An ingest queues the builds of the products reading its dataset: the build is one of those jobs (or
  // submitted when there were none), and no job is left behind for the next case.
  let build = await drain(p, catalog, product);
  if (!build) {
    await submit(p, { kind: 'build', product }, { kind: 'cli' });
    build = await drain(p, catalog, product);
  }
  if (build?.error) return [...found, `build failed: ${build.error.message}`];
  const manifest = await readManifest(p.store, product);
  const in4326 = t.srid === 4326 ? loaded : (await readTable(p.db, 'datasets', dataset, 4326)).map(canon);
  for (const out of manifest.outputs) {
    const rows = (await readOutput(p.store.locate('egress', out.key), out.format, out.name)).map(canon);
    const srid = out.srid === 4326 ? 4326 : t.srid;
    const expected = srid === 4326 ? in4326 : loaded;
    for (const d of differences(expected, rows, OUTPUT_RULES[out.format], srid))
      found.push(`${format} → ${out.format}: ${d}`);
  }
  return found;
}
