import { costLedger } from '../cost/ledger.ts';
import { localCostProfile } from '../cost/profile.ts';
import type { Usage } from '../cost/usage.ts';
import { wokeBy } from '../cost/wake.ts';
import type { Platform } from '../platform/platform.ts';
import type { JobMessage } from '../ports/job-queue.ts';
import { sizeFor } from '../ports/task-launcher.ts';
import type { Run } from '../runs/schema.ts';

/**
 * Whether the database's server started just before `run` was recorded. This takes a resumed Aurora instance
 * to report its resume as the server's start (pausing stops the instance's compute): an assumption not yet
 * checked against a real cluster, which is why the ledger calls its Aurora figures an estimate.
 */
async function wokeDatabase(p: Platform, run: Run): Promise<boolean> {
  const [row] = await p.db.query<{ started: string }>(
    `SELECT to_char(pg_postmaster_start_time() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS started`,
  );
  return row ? wokeBy(run.createdAt, row.started) : false;
}

/**
 * Records a finished run's cost ledger, computed from its recorded start and end, its size class and what
 * the adapters counted. A ledger is bookkeeping: if it cannot be made, the run stands as it finished.
 */
export async function recordCost(p: Platform, run: Run, job: JobMessage, usage: Usage): Promise<Run> {
  if (!run.startedAt || !run.finishedAt) return run;
  try {
    const profile = p.cost ?? localCostProfile();
    const size = sizeFor(job);
    const ledger = costLedger({
      where: profile.where,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      billedFrom: (await profile.billedFrom?.()) ?? undefined,
      size,
      spec: profile.taskSize(size),
      database: profile.database,
      wokeCluster: profile.where === 'aws' && (await wokeDatabase(p, run)),
      attempts: run.attempts,
      usage: usage.counts,
    });
    return await p.runs.setCost(run.id, ledger);
  } catch (e) {
    process.stderr.write(`run ${run.id}: no cost ledger: ${(e as Error).message}\n`);
    return run;
  }
}
