// Only complete, regular files are taken from the ingress folder,
// anything else is refused with a logged reason and never read, and the watcher's memory stays bounded.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { executeJob } from '../../runtime/jobs/execute.ts';
import { IngressWatcher } from '../../runtime/serve/ingress-watcher.ts';
import type { IngressOutcome } from '../../runtime/triggers/ingress.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { notesCatalog, notesCsv } from '../helpers/notes.ts';

describe.each(engines())('faults: what the ingress folder takes, on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  let ingress: string;
  let clock: number;
  let outcomes: { key: string; outcome: IngressOutcome }[];
  const watcher = (options: { maxTracked?: number } = {}) =>
    new IngressWatcher(
      p,
      catalog,
      { maxBytes: 1 << 20, quietMs: 2000, now: () => clock, ...options },
      (key, outcome) => outcomes.push({ key, outcome }),
    );
  /** Sets a file's modification time `agoMs` before the watcher's clock. */
  const age = (path: string, agoMs: number) => utimes(path, (clock - agoMs) / 1000, (clock - agoMs) / 1000);
  const drainJobs = async () => {
    const jobs = await p.queue.receive(10, 60);
    for (const j of jobs) await p.queue.delete(j.receipt);
    return jobs.map((j) => j.job);
  };
  const archived = async () => {
    const dir = join(p.dir, 'buckets', 'archive', 'datasets', 'notes');
    return existsSync(dir)
      ? (await readdir(dir)).filter((v) => existsSync(join(dir, v, 'metadata.json')))
      : [];
  };

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await notesCatalog(join(p.dir, 'catalog'));
    ingress = join(p.dir, 'buckets', 'ingress', 'datasets', 'notes');
    await mkdir(ingress, { recursive: true });
  });
  afterAll(async () => p?.close());
  beforeEach(async () => {
    outcomes = [];
    clock = Date.now();
    // Each test starts with an empty folder and an empty queue.
    for (const name of await readdir(ingress))
      await rm(join(ingress, name), { recursive: true, force: true });
    await drainJobs();
  });

  it('a file still being written is not taken: temporary names and dot files are skipped, and a file is taken once quiet', async () => {
    // Prepare: the protocol's temporary names, and a slow writer appending to a final name.
    for (const name of ['a.csv.part', 'a.csv.tmp', '.a.csv']) {
      await writeFile(join(ingress, name), notesCsv(3));
      await age(join(ingress, name), 60_000);
    }
    const slow = join(ingress, 'slow.csv');
    await writeFile(slow, notesCsv(500));
    const w = watcher();

    // Act: the writer keeps appending between polls (each write a moment ago), then stops.
    for (let i = 1; i <= 3; i++) {
      await age(slow, 100);
      await w.poll();
      await w.poll();
      await appendFile(slow, `${500 * i + 1},more\n`);
    }
    await age(slow, 100);
    await w.poll();
    clock += 2500; // quiet long enough
    await w.poll();
    await w.poll();

    // Assess: only the finished file became a run, once, with its final size.
    expect(outcomes.map((o) => [o.key, o.outcome.status])).toEqual([['datasets/notes/slow.csv', 'queued']]);
    const jobs = await drainJobs();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ source: { key: 'datasets/notes/slow.csv' } });
    const run = await p.runs.get(jobs[0]!.runId);
    expect(run.trigger.detail).toMatchObject({
      size: `${notesCsv(500)}501,more\n1001,more\n1501,more\n`.length,
    });
  });

  it('links, pipes and other files that are not regular files are refused with the reason, once, and never read', async () => {
    // Prepare: a link to a file outside the folder, a link to a folder, and a named pipe.
    const secret = join(p.dir, 'secret.txt');
    await writeFile(secret, 'root:x:0:0:root:/root:/bin/bash\n');
    await symlink(secret, join(ingress, 'passwd.csv'));
    await symlink(p.dir, join(ingress, 'outside'));
    execFileSync('mkfifo', [join(ingress, 'pipe.csv')]);
    const w = watcher();

    // Act
    await w.poll();
    clock += 10_000;
    await w.poll();
    await w.poll();

    // Assess: each refused once, with what it is; nothing queued, nothing archived, nothing of the content said.
    expect(
      outcomes
        .map((o) => [o.key, o.outcome.status === 'rejected' ? o.outcome.reason : o.outcome.status])
        .sort(),
    ).toEqual([
      [
        'datasets/notes/outside',
        'datasets/notes/outside: it is a symbolic link; only regular files are taken',
      ],
      [
        'datasets/notes/passwd.csv',
        'datasets/notes/passwd.csv: it is a symbolic link; only regular files are taken',
      ],
      [
        'datasets/notes/pipe.csv',
        'datasets/notes/pipe.csv: it is a named pipe; only regular files are taken',
      ],
    ]);
    expect(await drainJobs()).toEqual([]);
    expect(JSON.stringify(outcomes)).not.toContain('root:x');
    expect(await archived()).toEqual([]);
  });

  it('a file swapped for a link after its event is refused by the ingest itself, with no content in the run error', async () => {
    // Prepare: a regular file is reported and queued...
    const path = join(ingress, 'swapped.csv');
    await writeFile(path, notesCsv(2));
    await age(path, 10_000);
    const w = watcher();
    await w.poll();
    await w.poll();
    const [job] = await drainJobs();
    // ...and replaced by a link to a file outside the folder before the worker reads it.
    const secret = join(p.dir, 'secret2.txt');
    await writeFile(secret, 'root:x:0:0:root:/root:/bin/bash\n');
    await rm(path);
    await symlink(secret, path);
    const before = await archived();

    // Act
    const run = await executeJob(p, catalog, job!);

    // Assess
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({
      code: 'LOAD_FAILED',
      message: 'ingress/datasets/notes/swapped.csv: it is a symbolic link; only regular files are taken',
    });
    expect(JSON.stringify(run)).not.toContain('root:x');
    expect(await archived()).toEqual(before);
  });

  it('the watcher remembers only the files present, and at most maxTracked of them, so its memory stays bounded', async () => {
    // Prepare: 40 files in a folder of their own.
    const dir = join(p.dir, 'buckets', 'ingress', 'datasets', 'many');
    await mkdir(dir, { recursive: true });
    for (let i = 0; i < 40; i++) await writeFile(join(dir, `f${i}.csv`), `id\n${i}\n`);
    const w = watcher({ maxTracked: 25 });
    // Act + assess: never more than the bound, and files that go are forgotten.
    await w.poll();
    expect(w.size).toBeLessThanOrEqual(25);
    await w.poll();
    expect(w.size).toBeLessThanOrEqual(25);
    await rm(dir, { recursive: true });
    await w.poll();
    const left = (await readdir(ingress)).length;
    expect(w.size).toBeLessThanOrEqual(left);
  });
});
