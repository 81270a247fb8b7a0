import type { JobMessage, JobQueue } from '../ports/job-queue.ts';
import type { RunRegistry } from './registry.ts';
import type { Run, RunKind } from './schema.ts';

export interface RedriveOutcome {
  readonly runId: string;
  readonly kind: RunKind;
  readonly target: string;
  readonly status: 'queued' | 'skipped';
  readonly reason?: string;
}

interface Deps {
  readonly runs: RunRegistry;
  readonly queue: JobQueue;
}

/** A run's job: the one recorded, or for builds and fetches (which need nothing but their target) a new one. */
function jobFor(run: Run, recorded: JobMessage | null): JobMessage | undefined {
  if (recorded) return recorded;
  if (run.kind === 'build') return { kind: 'build', runId: run.id, product: run.target };
  if (run.kind === 'fetch') return { kind: 'fetch', runId: run.id, dataset: run.target };
  return undefined;
}

/**
 * Sends a failed or interrupted run again: it goes back to queued (its last outcome kept in its attempts) and
 * its job is sent, with its retry count and backoff started afresh. `by` says who asked (recorded).
 */
export async function redriveRun(deps: Deps, runId: string, by: string): Promise<RedriveOutcome> {
  const run = await deps.runs.get(runId);
  const base = { runId, kind: run.kind, target: run.target };
  if (run.status !== 'failed' && run.status !== 'interrupted')
    return {
      ...base,
      status: 'skipped',
      reason: `it is ${run.status}; only failed or interrupted runs are sent again`,
    };
  const job = jobFor(run, await deps.runs.jobOf(runId));
  if (!job)
    return { ...base, status: 'skipped', reason: 'its job was not recorded, so it cannot be sent again' };
  const requeued = await deps.runs.requeue(runId, by);
  if (!requeued) return { ...base, status: 'skipped', reason: 'it changed meanwhile' };
  const { retry: _retry, held: _held, ...fresh } = job;
  await deps.queue.send(fresh as JobMessage);
  return { ...base, status: 'queued' };
}

export interface ReplaySelection {
  /** Failed runs made at or after this time. */
  readonly since: Date;
  readonly kind?: RunKind;
  readonly target?: string;
  /** Say what would be sent, send nothing. */
  readonly dryRun?: boolean;
  /** @default 500 */
  readonly limit?: number;
}

/**
 * Sends again every run that failed since `since`. A build or fetch is sent once per target (its newest
 * failure) and not at all when a later run of it succeeded; every failed ingest is sent, each is a file.
 */
export async function replayFailed(
  deps: Deps,
  selection: ReplaySelection,
  by: string,
): Promise<RedriveOutcome[]> {
  const failed = await deps.runs.list({
    status: 'failed',
    since: selection.since,
    kind: selection.kind,
    target: selection.target,
    limit: selection.limit ?? 500,
  });
  const out: RedriveOutcome[] = [];
  const seen = new Set<string>();
  for (const run of failed) {
    const base = { runId: run.id, kind: run.kind, target: run.target };
    if (run.kind !== 'ingest') {
      const key = `${run.kind}:${run.target}`;
      if (seen.has(key)) {
        out.push({ ...base, status: 'skipped', reason: 'a newer failed run of it is sent instead' });
        continue;
      }
      seen.add(key);
      const [last] = await deps.runs.list({
        kind: run.kind,
        target: run.target,
        status: 'succeeded',
        limit: 1,
      });
      if (last && last.createdAt > run.createdAt) {
        out.push({ ...base, status: 'skipped', reason: `a later run of it succeeded (${last.id})` });
        continue;
      }
    }
    if (selection.dryRun) out.push({ ...base, status: 'queued', reason: 'dry run: not sent' });
    else out.push(await redriveRun(deps, run.id, by));
  }
  return out;
}
