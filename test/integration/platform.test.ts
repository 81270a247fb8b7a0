import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalogOrThrow } from '../../runtime/catalog-files/loader.ts';
import { migrate, readMigrations } from '../../runtime/db/migrate.ts';
import { executeJob } from '../../runtime/jobs/execute.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { until } from '../helpers/wait.ts';

describe.each(engines())('platform registry, queue and migrations on $name', (engine) => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await testPlatform(engine);
  });
  afterAll(async () => p?.close());

  it('applied every migration once and records it', async () => {
    const applied = await p.db.query<{ name: string }>(
      'SELECT name FROM public.strata_migrations ORDER BY version',
    );
    expect(applied.map((r) => r.name)).toEqual((await readMigrations()).map((m) => m.name));
    expect(await migrate(p.db)).toEqual([]);
  });

  it('refuses to run when an applied migration was edited', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-sql-'));
    const [first] = await readMigrations();
    await writeFile(join(dir, first!.name), `${first!.sql}\n-- edited`);
    await expect(migrate(p.db, dir)).rejects.toThrow(/was changed after it was applied/);
  });

  it('hides a received job until its visibility runs out, and gives it back after', async () => {
    const run = await p.runs.create('build', 'x', { kind: 'cli' });
    await p.queue.send({ kind: 'build', runId: run.id, product: 'x' });
    // Hidden for long enough that no pause of a loaded machine can make it visible before the next line.
    const [first] = await p.queue.receive(10, 600);
    expect(first).toMatchObject({ job: { runId: run.id }, receives: 1 });
    expect(await p.queue.receive(10, 1)).toEqual([]);
    // Its visibility shortened to a second, as a heartbeat does; then it must come back by itself.
    await p.queue.extend(first!.receipt, 1);
    // Taken back with no visibility, so the job stays visible: only the delete below can hide it now.
    const again = await until('the job to come back', async () => (await p.queue.receive(10, 0))[0], 30_000);
    expect(again).toMatchObject({ job: { runId: run.id }, receives: 2 });
    await p.queue.delete(again!.receipt);
    expect(await p.queue.receive(10, 0)).toEqual([]);
  });

  it('gives each job to one receiver when several take at once', async () => {
    for (let i = 0; i < 20; i++) await p.queue.send({ kind: 'build', runId: `r${i}`, product: 'x' });
    const batches = await Promise.all([1, 2, 3, 4].map(() => p.queue.receive(5, 60)));
    const ids = batches.flat().map((j) => j.job.runId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(20);
    for (const j of batches.flat()) await p.queue.delete(j.receipt);
  });

  it('does a job once when it is delivered twice, and records a failure truthfully', async () => {
    const catalog = await loadCatalogOrThrow(join(import.meta.dirname, '../../catalog'));
    const run = await submit(p, { kind: 'build', product: 'no_such_product' }, { kind: 'cli' });
    const [job] = await p.queue.receive(1, 60);
    const done = await executeJob(p, catalog, job!.job);
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'NOT_FOUND' } });
    expect(String(done.error?.message)).toMatch(/product "no_such_product" is not in the catalog/);
    const again = await executeJob(p, catalog, job!.job);
    expect(again).toMatchObject({ id: run.id, status: 'failed', attempts: 1 });
    expect((await p.runs.list({ status: 'failed' })).map((r) => r.id)).toContain(run.id);
  });
});
