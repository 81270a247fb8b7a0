// Rebuilds keyed on what a product has seen, and builds of one product that queue
// behind each other instead of failing.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { executeJob, workUntil } from '../../runtime/jobs/execute.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import type { JobMessage } from '../../runtime/ports/job-queue.ts';
import { listProductVersions, readManifest } from '../../runtime/publish/versions.ts';
import type { Run } from '../../runtime/runs/schema.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { notesCatalog, writeNotes } from '../helpers/notes.ts';

describe.each(engines())('faults: rebuilds and queued builds on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  let n = 0;
  const file = (rows: number) => writeNotes(p.dir, `notes-${++n}.csv`, rows, `#${n}`);
  /** Takes the queued job of a run off the queue (as a worker would) and returns it. */
  const take = async (runId: string): Promise<JobMessage> => {
    const jobs = await p.queue.receive(10, 60);
    for (const j of jobs) await p.queue.delete(j.receipt);
    const job = jobs.find((j) => j.job.runId === runId)?.job;
    if (!job) throw new Error(`no job for run ${runId}`);
    return job;
  };
  const queuedBuilds = () => p.runs.list({ kind: 'build', status: 'queued', target: 'copy' });
  const publishedCount = async () => (await listProductVersions(p.store, 'copy')).length;

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await notesCatalog(join(p.dir, 'catalog'));
  });
  afterAll(async () => p?.close());

  it('an ingest retried after its first attempt archived and loaded the version still rebuilds the products that read it', async () => {
    // Prepare: version A ingested by a worker, which queues the build of `copy`; the build publishes.
    const a = await submit(
      p,
      { kind: 'ingest', dataset: 'notes', source: { path: await file(3) }, filename: 'a.csv' },
      { kind: 'upload' },
    );
    await executeJob(p, catalog, await take(a.id), {}, { rebuildDependents: true });
    const [firstBuild] = await queuedBuilds();
    expect(firstBuild).toMatchObject({ trigger: { kind: 'input' } });
    await workUntil(p, catalog, firstBuild!.id);
    const published = await publishedCount();
    // A second file: its first attempt archived and loaded version B, then its worker was killed before the
    // run recorded anything (the work is done here by hand, as that attempt did it).
    const path = await file(5);
    const b = await submit(
      p,
      { kind: 'ingest', dataset: 'notes', source: { path }, filename: 'b.csv' },
      { kind: 'upload' },
    );
    const jobB = await take(b.id);
    const firstAttempt = await runIngest(p, catalog, {
      dataset: 'notes',
      path,
      filename: 'b.csv',
      origin: { kind: 'file', from: path },
    });
    expect(firstAttempt.result.created).toBe(true);

    // Act: the retry finds the version made already.
    const retried = await executeJob(p, catalog, jobB, {}, { rebuildDependents: true });

    // Assess: no new version, and yet the product is rebuilt from B, exactly once.
    expect(retried).toMatchObject({ status: 'succeeded', result: { created: false, rows: 5 } });
    const builds = await queuedBuilds();
    expect(builds).toHaveLength(1);
    expect(builds[0]!.trigger).toMatchObject({ kind: 'input', detail: { version: retried.result?.version } });
    // The same job delivered once more (a duplicate) finds the build queued already.
    await executeJob(p, catalog, jobB, {}, { rebuildDependents: true });
    expect(await queuedBuilds()).toHaveLength(1);
    const built = await workUntil(p, catalog, builds[0]!.id);
    expect(built.status).toBe('succeeded');
    expect(await publishedCount()).toBe(published + 1);
    const manifest = await readManifest(p.store, 'copy');
    expect(manifest.inputs.map((i) => i.version)).toEqual([retried.result?.version]);
    // Bytes already archived and already built from rebuild nothing.
    const again = await submit(
      p,
      { kind: 'ingest', dataset: 'notes', source: { path }, filename: 'b.csv' },
      { kind: 'upload' },
    );
    expect((await executeJob(p, catalog, await take(again.id), {}, { rebuildDependents: true })).status).toBe(
      'succeeded',
    );
    expect(await queuedBuilds()).toEqual([]);
  });

  it('a second build of one product waits for the first; queued automatically with the inputs the first read, it publishes nothing new', async () => {
    // Prepare: a new version, and two builds queued for it automatically (two inputs moved at once, say),
    // plus one asked for by hand.
    const path = await file(8);
    await runIngest(p, catalog, {
      dataset: 'notes',
      path,
      filename: 'c.csv',
      origin: { kind: 'file', from: path },
    });
    const before = await publishedCount();
    const auto1 = await submit(p, { kind: 'build', product: 'copy' }, { kind: 'input' });
    const auto2 = await submit(p, { kind: 'build', product: 'copy' }, { kind: 'input' });
    const jobs = (await p.queue.receive(10, 60)).filter((j) => [auto1.id, auto2.id].includes(j.job.runId));
    expect(jobs).toHaveLength(2);

    // Act: two workers take them at the same moment.
    const runs: Run[] = await Promise.all(jobs.map((j) => executeJob(p, catalog, j.job)));
    for (const j of jobs) await p.queue.delete(j.receipt);

    // Assess: neither failed; one published a new version, the other says it had nothing new to publish.
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    const fresh = runs.filter((r) => r.result?.upToDate !== true);
    const skipped = runs.filter((r) => r.result?.upToDate === true);
    expect(fresh).toHaveLength(1);
    expect(skipped).toHaveLength(1);
    expect(String(skipped[0]!.result?.message)).toMatch(
      new RegExp(
        `version ${String(fresh[0]!.result?.version)} .* was built from these same inputs: nothing new to publish`,
      ),
    );
    expect(skipped[0]!.lineage).toEqual(fresh[0]!.lineage);
    expect(await publishedCount()).toBe(before + 1);
    // A build asked for by hand publishes even with the same inputs (its SQL may have changed).
    const manual = await submit(p, { kind: 'build', product: 'copy' }, { kind: 'cli' });
    const done = await workUntil(p, catalog, manual.id);
    expect(done.result?.upToDate).toBeUndefined();
    expect(await publishedCount()).toBe(before + 2);
  });
});
