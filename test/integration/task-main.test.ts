import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBundle } from '../../bin/bundle.mjs';
import type { RebuildReport } from '../../runtime/rebuild/rebuild.ts';

const ROOT = join(import.meta.dirname, '..', '..');
let task: string;
/** The home the ingest test leaves behind: one archived version, which the rebuild test makes again. */
let home: string | undefined;

// The bundle, as the task image runs it (`node dist/task.mjs`).
beforeAll(async () => {
  task = (await ensureBundle()).task!;
});

function runTask(env: Record<string, string>) {
  const clean = { ...process.env };
  delete clean.DATABASE_URL;
  return spawnSync('node', [task], {
    cwd: ROOT,
    env: { ...clean, ...env },
    encoding: 'utf8',
    // Two embedded databases start in this test (the run is recorded, then the task opens it): on a
    // loaded two-core machine each can take a minute.
    timeout: 240_000,
  });
}

describe('the task entry point (tasks/main.ts, bundled)', () => {
  it('exits 2 and says why when STRATA_JOB is not a job', () => {
    const r = runTask({ STRATA_JOB: '{"kind":"explode"}' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/STRATA_JOB is not a job/);
  });

  it('runs an ingest job end to end on the local adapters and exits 0', async () => {
    home = await mkdtemp(join(tmpdir(), 'strata-task-'));
    const file = join(home, 'places.csv');
    await writeFile(
      file,
      'geoname_id,name,country,feature_code,admin_code,population,lon,lat\n1,Leeds,GB,PPL,,800000,-1.55,53.8\n',
    );
    // The run the job belongs to must exist: record it the way a trigger would, through the same registry.
    // The task runs on the embedded database here, so the run is recorded there too, not on DATABASE_URL.
    const { openLocalPlatform } = await import('../../runtime/platform/local.ts');
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    let runId: string;
    try {
      const p = await openLocalPlatform({ home });
      runId = (await p.runs.create('ingest', 'world_places', { kind: 'cli' })).id;
      await p.close();
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
    const run = { id: runId };
    const job = {
      kind: 'ingest',
      runId: run.id,
      dataset: 'world_places',
      source: { path: file },
      filename: 'places.csv',
    };
    const r = runTask({ STRATA_JOB: JSON.stringify(job), STRATA_HOME: home });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // Every line is structured JSON carrying the run id: the steps, then how the run ended.
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const line of lines) expect(line).toMatchObject({ runId: run.id, service: 'strata' });
    expect(lines.map((l) => l.message)).toEqual(
      expect.arrayContaining(['archive start', 'archive done', 'load start', 'load done']),
    );
    expect(lines.at(-1)).toMatchObject({ message: 'run finished', run: run.id, status: 'succeeded' });
    expect(lines.at(-1)?.error).toBeUndefined();
  }, 300_000);

  it('exits 2 and says why when STRATA_COMMAND is not a command', () => {
    const r = runTask({ STRATA_COMMAND: '{"command":"db-drop"}' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/STRATA_COMMAND is not a command/);
  });

  it('rebuilds a lost database from the buckets when told STRATA_COMMAND db-rebuild (what --aws starts)', async () => {
    if (!home) throw new Error('the ingest test above leaves the home this test rebuilds');
    await rm(join(home, 'pglite'), { recursive: true, force: true });
    const r = runTask({ STRATA_COMMAND: '{"command":"db-rebuild"}', STRATA_HOME: home });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { message: string; command?: string; report?: RebuildReport });
    for (const line of lines) expect(line.command).toBe('db-rebuild');
    const report = lines.at(-1)?.report;
    expect(lines.at(-1)?.message).toBe('rebuild finished');
    expect(report?.empty).toBe(true);
    expect(report?.added.versions).toHaveLength(1);
    expect(report?.loaded.map((l) => [l.dataset, l.rows])).toEqual([['world_places', 1]]);
    expect(report?.notLoaded).toEqual([]);

    // Told again, the database lacks nothing: refused in one structured line, exit code 1, not a stack trace.
    const again = runTask({ STRATA_COMMAND: '{"command":"db-rebuild"}', STRATA_HOME: home });
    expect(again.status).toBe(1);
    // Powertools writes errors to stderr, as structured as the rest.
    const last = JSON.parse(again.stderr.trim().split('\n').at(-1) ?? '{}');
    expect(last).toMatchObject({ level: 'ERROR', message: 'db-rebuild stopped' });
    expect(last.error).toMatch(/would add nothing/);
  }, 300_000);
});
