// A worker killed in the middle of a load, on both engines: nothing of the load is visible, nothing is
// archived twice, and the run is retried to success with its interruption recorded.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { executeJob } from '../../runtime/jobs/execute.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { openLocalPlatform } from '../../runtime/platform/local.ts';
import { recoverOrphans } from '../../runtime/serve/worker.ts';
import { processEngines } from '../helpers/engines.ts';
import { notesCatalog, writeNotes } from '../helpers/notes.ts';
import { until } from '../helpers/wait.ts';

const ROOT = join(import.meta.dirname, '..', '..');

describe.each(processEngines())('faults: a worker killed mid-load on $name', (mode) => {
  it('leaves nothing of the load visible, archives nothing twice, and the run is retried to success', async () => {
    // Prepare: a home, a catalog, a queued ingest of 20 000 rows.
    const home = await mkdtemp(join(tmpdir(), 'strata-killed-'));
    const catalogDir = join(home, 'catalog');
    const catalog = await notesCatalog(catalogDir);
    const databaseUrl = await mode.url();
    /** The platform on this mode's database: the embedded one even where DATABASE_URL is set for the run. */
    const open = async () => {
      if (databaseUrl) return openLocalPlatform({ home, databaseUrl });
      const saved = process.env.DATABASE_URL;
      delete process.env.DATABASE_URL;
      try {
        return await openLocalPlatform({ home });
      } finally {
        if (saved !== undefined) process.env.DATABASE_URL = saved;
      }
    };
    let p = await open();
    const path = await writeNotes(home, 'big.csv', 20_000);
    const run = await submit(
      p,
      { kind: 'ingest', dataset: 'notes', source: { path }, filename: 'big.csv' },
      { kind: 'upload' },
    );
    // The embedded database belongs to one process at a time: the worker's, now.
    if (!databaseUrl) await p.close();
    const marker = join(home, 'loading.json');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      STRATA_HOME: home,
      STRATA_CATALOG: catalogDir,
      MARKER: marker,
    };
    if (databaseUrl) env.DATABASE_URL = databaseUrl;
    else delete env.DATABASE_URL;
    const child = spawn('node', ['--import', 'tsx', 'test/fixtures/killable-worker.ts'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });

    // Act: kill it once it is in the middle of the load.
    await until(
      'the load to begin',
      () =>
        existsSync(marker) ? true : child.exitCode !== null ? Promise.reject(new Error(stderr)) : undefined,
      300_000,
    );
    const progress = JSON.parse(await readFile(marker, 'utf8')) as { rows: number };
    child.kill('SIGKILL');
    await until('the worker to die', () =>
      child.signalCode !== null || child.exitCode !== null ? true : undefined,
    );
    if (!databaseUrl) p = await open();
    try {
      // Assess 1: the killed load left nothing in `datasets`, but its version's bytes are archived.
      expect(progress.rows).toBeGreaterThan(0);
      const tables = await p.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname IN ('datasets', 'strata_loading')",
      );
      expect(tables[0]!.n).toBe(0);
      expect((await p.runs.get(run.id)).status).toBe('running');
      // Act 2: the next start recovers the run, and a worker retries it.
      expect(await recoverOrphans(p, databaseUrl ? 0 : 'all')).toEqual([run.id]);
      const [job] = await p.queue.receive(1, 60);
      const done = await executeJob(p, catalog, job!.job);
      // Assess 2: the bytes the first attempt copied are taken up, not copied again; they become a version
      // only now, when a load passes the dataset's contract (so this attempt is the one that made it).
      expect(done).toMatchObject({
        status: 'succeeded',
        attempts: 2,
        result: { rows: 20_000, created: true },
      });
      const attempts = await p.runs.attempts(run.id);
      expect(attempts.map((a) => [a.status, a.worker, a.cause?.code ?? null])).toEqual([
        ['interrupted', 'killable', 'INTERRUPTED'],
        ['succeeded', null, null],
      ]);
      const versions = (await p.store.list('archive', 'datasets/notes/')).filter((o) =>
        o.key.endsWith('metadata.json'),
      );
      expect(versions).toHaveLength(1);
      const [count] = await p.db.query<{ n: number }>('SELECT count(*)::int AS n FROM datasets.notes');
      expect(count!.n).toBe(20_000);
    } finally {
      await p.close();
    }
  }, 900_000);
});
