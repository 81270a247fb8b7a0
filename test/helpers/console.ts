// A home with something to look at in the console, made by the normal paths: files ingested through jobs, two
// builds of a product (the second with changed rows), a file its contract quarantined, and a build that
// failed because an input had no version yet (which a retry mends once the input has one).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutputFormat } from '../../runtime/catalog/schema.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import type { Run } from '../../runtime/runs/schema.ts';
import { writeCatalog } from './catalog.ts';
import type { TestPlatform } from './engines.ts';
import { SITES_DATASET, type Site, siteGrid, sitesCsv } from './sites.ts';

const grid = siteGrid;

/** Six sites busier, two gone, three new: what the second build's QA report compares. */
export function changedGrid(): Site[] {
  const next = grid().filter((s) => s.id !== 12 && s.id !== 45);
  for (const s of next) if ([3, 17, 28, 33, 51, 58].includes(s.id)) s.visits += 200;
  next.push(
    { id: 61, name: 'new east', visits: 1, lon: 1.8, lat: 53.2 },
    { id: 62, name: 'new west', visits: 2, lon: -4.6, lat: 51.9 },
    { id: 63, name: 'new north', visits: 3, lon: -1, lat: 54.3 },
  );
  return next;
}

/** Forty sites, two of them far east of the dataset's bbox: 33% fewer rows and two out of bounds. */
export const refusedGrid = (): Site[] =>
  grid()
    .slice(0, 40)
    .map((s) => (s.id === 7 || s.id === 9 ? { ...s, lon: 10 + s.id / 10 } : s));

export interface ConsoleHome {
  readonly catalog: Catalog;
  readonly ingests: Run[];
  readonly builds: Run[];
  /** The ingest its contract refused; its file waits in quarantine. */
  readonly quarantined: Run;
  /** The build that failed: `regions` had no version when it ran. */
  readonly failed: Run;
}

/** `siteListFormats`: the formats site_list publishes its output in (the catalog's default when absent). */
export async function consoleHome(
  p: TestPlatform,
  options: { siteListFormats?: OutputFormat[] } = {},
): Promise<ConsoleHome> {
  const catalog = await writeCatalog(join(p.dir, 'catalog'), {
    datasets: {
      sites: {
        ...SITES_DATASET,
        title: 'Sites people visit',
        bbox: [-6, 49, 3, 56],
        change: { maxFewerRows: '20%' },
      },
      regions: {
        format: 'csv',
        columns: [
          { name: 'id', type: 'integer', required: true },
          { name: 'region', type: 'text' },
        ],
        geometry: { kind: 'none' },
      },
    },
    products: {
      site_list: {
        product: {
          title: 'Sites and their visits',
          inputs: { sites: 'sites' },
          schedule: 'rate(1 day)',
          checks: [
            { type: 'unique', table: 'sites_out', columns: ['id'] },
            {
              name: 'busy sites',
              type: 'sql',
              table: 'sites_out',
              severity: 'warn',
              sql: 'SELECT id, visits FROM sites_out WHERE visits > 100',
            },
          ],
          outputs: [
            {
              table: 'sites_out',
              key: ['id'],
              orderBy: ['id'],
              ...(options.siteListFormats ? { formats: options.siteListFormats } : {}),
            },
          ],
        },
        sql: { '010_out.sql': 'CREATE TABLE sites_out AS SELECT id, name, visits, geom FROM sites;' },
      },
      site_regions: {
        product: {
          title: 'Sites by region',
          inputs: { sites: 'sites', regions: 'regions' },
          outputs: [{ table: 'site_regions', key: ['id'], orderBy: ['id'] }],
        },
        sql: {
          '010_join.sql':
            'CREATE TABLE site_regions AS SELECT s.id, s.name, r.region, s.geom FROM sites s JOIN regions r ON r.id = s.id % 3;',
        },
      },
    },
  });
  let n = 0;
  const ingest = async (dataset: string, text: string) => {
    const path = join(p.dir, `${dataset}-${++n}.csv`);
    await writeFile(path, text);
    const run = await submit(
      p,
      { kind: 'ingest', dataset, source: { path }, filename: `${dataset}-${n}.csv` },
      { kind: 'cli', by: 'ann' },
    );
    return workUntil(p, catalog, run.id, {}, 50);
  };
  const build = async (product: string) =>
    workUntil(
      p,
      catalog,
      (await submit(p, { kind: 'build', product }, { kind: 'cli', by: 'ann' })).id,
      {},
      50,
    );

  const ingests = [await ingest('sites', sitesCsv(grid()))];
  const builds = [await build('site_list')];
  ingests.push(await ingest('sites', sitesCsv(changedGrid())));
  builds.push(await build('site_list'));
  const quarantined = await ingest('sites', sitesCsv(refusedGrid()));
  const failed = await build('site_regions');
  ingests.push(await ingest('regions', 'id,region\n0,North\n1,East\n2,West\n'));
  for (const r of [...ingests, ...builds])
    if (r.status !== 'succeeded') throw new Error(`run ${r.id} ${r.status}: ${JSON.stringify(r.error)}`);
  if (quarantined.status !== 'failed' || failed.status !== 'failed')
    throw new Error(
      `expected a quarantined ingest and a failed build, got ${quarantined.status}, ${failed.status}`,
    );
  return { catalog, ingests, builds, quarantined, failed };
}
