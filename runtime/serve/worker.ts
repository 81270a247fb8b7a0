import type { Catalog } from '../catalog/loader.ts';
import { executeJob } from '../jobs/execute.ts';
import type { Platform } from '../platform.ts';

export type WorkerLog = (message: string, detail?: Record<string, unknown>) => void;

/**
 * One worker: takes a job from the queue, runs it (heartbeating its run), deletes it, and looks again. It
 * stops taking jobs when `stopping()` says so; a job it holds then is finished first.
 */
export async function workLoop(
  p: Platform,
  catalog: Catalog,
  options: {
    stopping: () => boolean;
    idleMs?: number;
    visibilitySeconds?: number;
    /** Well under the staleness after which other processes take a run as orphaned. */
    heartbeatMs: number;
    log: WorkerLog;
    name: string;
  },
): Promise<void> {
  while (!options.stopping()) {
    const [received] = await p.queue.receive(1, options.visibilitySeconds ?? 15 * 60);
    if (!received) {
      await new Promise((r) => setTimeout(r, options.idleMs ?? 500));
      continue;
    }
    const { job } = received;
    options.log(
      `${options.name}: ${job.kind} ${job.kind === 'build' ? job.product : job.dataset} (run ${job.runId})`,
    );
    const beat = setInterval(() => {
      p.runs.heartbeat(job.runId).catch(() => {});
    }, options.heartbeatMs);
    try {
      const run = await executeJob(p, catalog, job, {}, { rebuildDependents: true });
      options.log(
        `${options.name}: run ${run.id} ${run.status}${run.error ? `: ${String(run.error.message)}` : ''}`,
      );
    } finally {
      clearInterval(beat);
    }
    await p.queue.delete(received.receipt);
  }
}

/**
 * Runs marked running whose worker is gone (killed mid-job) are marked interrupted and their jobs made
 * visible again, so they are retried. With the embedded database only one process can hold it, so every
 * running run is orphaned; with a shared server only those whose heartbeat is older than `staleSeconds`.
 */
export async function recoverOrphans(p: Platform, staleSeconds: number | 'all'): Promise<string[]> {
  const rows = await p.db.query<{ id: string }>(
    `UPDATE strata.runs SET status = 'interrupted', finished_at = now(), task = NULL,
       error = jsonb_build_object('code', 'INTERRUPTED', 'message', 'its worker stopped before the run finished; retrying')
     WHERE status = 'running' AND ($1::int IS NULL OR heartbeat_at < now() - make_interval(secs => $1::int))
     RETURNING id`,
    [staleSeconds === 'all' ? null : staleSeconds],
  );
  const ids = rows.map((r) => r.id);
  if (ids.length > 0)
    await p.db.query('UPDATE strata.jobs SET visible_at = now() WHERE run_id = ANY($1)', [ids]);
  return ids;
}
