import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalog } from '../../runtime/catalog-files/bundle.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { CostLedger } from '../../runtime/cost/ledger.ts';
import { PRICES } from '../../runtime/cost/prices.ts';
import { awsCostProfile, DEFAULT_TASK_SIZES } from '../../runtime/cost/profile.ts';
import { costSince } from '../../runtime/cost/summary.ts';
import { wokeBy } from '../../runtime/cost/wake.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import type { Platform } from '../../runtime/platform/platform.ts';
import type { Bucket, ObjectInfo } from '../../runtime/ports/object-store.ts';
import type { Run } from '../../runtime/runs/schema.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';

/** Every object in the buckets a run writes to, by bucket/key. */
async function objects(p: Platform): Promise<Map<string, ObjectInfo>> {
  const out = new Map<string, ObjectInfo>();
  for (const bucket of ['archive', 'egress'] as Bucket[])
    for (const o of await p.store.list(bucket, '')) out.set(`${bucket}/${o.key}`, o);
  return out;
}

/** What a run wrote: the objects that were not there before it. */
function written(before: Map<string, ObjectInfo>, after: Map<string, ObjectInfo>): ObjectInfo[] {
  return [...after].filter(([k]) => !before.has(k)).map(([, o]) => o);
}

describe.each(engines())('cost ledgers on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  const since = new Date(Date.now() - 60_000);

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await openCatalog(
      (
        await writeCatalog(join(p.dir, 'catalog'), {
          datasets: {
            stops: {
              format: 'csv',
              columns: [
                { name: 'id', type: 'integer' },
                { name: 'locality', type: 'text' },
                { name: 'lon', type: 'double' },
                { name: 'lat', type: 'double' },
              ],
              geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat' },
            },
          },
          products: {
            per_locality: {
              product: {
                inputs: { stops: 'stops' },
                outputs: [{ table: 'counts', formats: ['csv', 'geojson'] }],
              },
              sql: {
                '010_counts.sql':
                  'CREATE TABLE counts AS SELECT locality, count(*)::int AS n, ST_Centroid(ST_Collect(geom)) AS geom FROM stops GROUP BY locality;',
              },
            },
          },
        })
      ).dir,
    );
  });
  afterAll(async () => p?.close());

  const run = async (platform: Platform, job: Parameters<typeof submit>[1]): Promise<Run> =>
    workUntil(platform, catalog, (await submit(platform, job, { kind: 'cli' })).id);

  it("records each run's catalog and a ledger computed from its recorded times, its size class and what it wrote", async () => {
    // Prepare
    const path = join(p.dir, 'stops.csv');
    await writeFile(
      path,
      'id,locality,lon,lat\n1,Leeds,-1.55,53.8\n2,Leeds,-1.54,53.81\n3,York,-1.08,53.96\n',
    );
    const before = await objects(p);

    // Act
    const ingest = await run(p, {
      kind: 'ingest',
      dataset: 'stops',
      source: { path },
      filename: 'stops.csv',
    });
    const middle = await objects(p);
    const build = await run(p, { kind: 'build', product: 'per_locality' });
    const after = await objects(p);

    // Assess
    for (const [r, size, wrote] of [
      [ingest, 'small', written(before, middle)],
      [build, 'medium', written(middle, after)],
    ] as const) {
      expect(r.status, JSON.stringify(r.error)).toBe('succeeded');
      expect(r.catalogSha256).toBe(catalog.sha256);
      const cost = CostLedger.parse(r.cost);
      const seconds = (Date.parse(r.finishedAt!) - Date.parse(r.startedAt!)) / 1000;
      const spec = DEFAULT_TASK_SIZES[size];
      const billed = Math.max(60, seconds);
      expect(cost).toMatchObject({
        where: 'local',
        task: { size, cpu: spec.cpu, memoryMiB: spec.memoryMiB },
      });
      expect(cost.task.seconds).toBe(seconds);
      expect(cost.task.billedSeconds).toBe(billed);
      expect(cost.task.vcpuSeconds).toBeCloseTo((billed * spec.cpu) / 1024, 9);
      expect(cost.task.gbSeconds).toBeCloseTo((billed * spec.memoryMiB) / 1024, 9);
      expect(cost.aurora.acuSeconds).toBeCloseTo(seconds * 4, 9);
      // Every object the run wrote was one PUT (all are small), and its bytes are counted.
      expect(wrote.length).toBeGreaterThan(1);
      expect(cost.s3.putRequests).toBe(wrote.length);
      expect(cost.s3.bytesWritten).toBe(wrote.reduce((n, o) => n + o.size, 0));
      expect(cost.usd.total).toBeCloseTo(
        cost.usd.fargate + cost.usd.aurora + cost.usd.s3 + cost.usd.dataApi,
        7,
      );
    }
    // With no core to report to, the publish sends no summary and says so.
    expect(build.result?.federation).toEqual({ status: 'skipped', reason: expect.stringMatching(/no core/) });

    // And `strata cost` sums them by dataset and product.
    const summary = await costSince(p.runs, since);
    expect(summary.lines.map((l) => [l.kind, l.name, l.runs])).toEqual([
      ['dataset', 'stops', 1],
      ['product', 'per_locality', 1],
    ]);
    expect(summary.total.usd).toBeCloseTo(
      CostLedger.parse(ingest.cost).usd.total + CostLedger.parse(build.cost).usd.total,
      5,
    );
    expect(summary.prices).toEqual({ date: PRICES.date, region: PRICES.region });
  });

  it('on Fargate: bills from the image pull, at the task definition size, and says whether the run woke the database', async () => {
    // Prepare: the task's metadata endpoint says the image pull began an hour ago.
    const pullStartedAt = new Date(Date.now() - 3_600_000).toISOString();
    const metadata = (async () =>
      new Response(JSON.stringify({ PullStartedAt: pullStartedAt }))) as typeof fetch;
    const onFargate: Platform = {
      ...p,
      cost: awsCostProfile(
        { size: 'large', cpu: 2048, memoryMiB: 8192 },
        { minAcu: 0, maxAcu: 8, autoPauseSeconds: 600 },
        'http://169.254.170.2/v4/task-id',
        metadata,
      ),
    };

    // Act
    const r = await run(onFargate, { kind: 'build', product: 'per_locality' });

    // Assess
    const cost = CostLedger.parse(r.cost);
    const billed = (Date.parse(r.finishedAt!) - Date.parse(pullStartedAt)) / 1000;
    expect(cost).toMatchObject({ where: 'aws', task: { cpu: 2048, memoryMiB: 8192 } });
    expect(cost.task.billedSeconds).toBeCloseTo(billed, 6);
    expect(cost.task.vcpuSeconds).toBeCloseTo(billed * 2, 6);
    const [server] = await p.db.query<{ started: string }>(
      `SELECT to_char(pg_postmaster_start_time() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS started`,
    );
    const woke = wokeBy(r.createdAt, server!.started);
    expect(cost.aurora.wokeCluster).toBe(woke);
    expect(cost.aurora.acuSeconds).toBeCloseTo(cost.task.seconds * 8 + (woke ? 600 * 0.5 : 0), 6);
    expect(cost.dataApi.calls).toBe(3);
  });
});
