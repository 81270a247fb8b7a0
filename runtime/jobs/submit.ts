import type { Platform } from '../platform/platform.ts';
import type { JobMessage, JobQueue, NewJob } from '../ports/job-queue.ts';
import type { RunRegistry } from '../runs/registry.ts';
import type { Run, RunKind, Trigger } from '../runs/schema.ts';

export type { NewJob };

// A release loads a file into its dataset: it is recorded as an ingest, as `strata quarantine release` records it.
const runOf = (job: NewJob): { kind: RunKind; target: string } => ({
  kind: job.kind === 'release' ? 'ingest' : job.kind,
  target: job.kind === 'build' ? job.product : job.dataset,
});

/** Records a queued run and puts its job on the queue: the same two steps a trigger Lambda takes. */
export async function submit(
  p: Pick<Platform, 'runs' | 'queue'>,
  job: NewJob,
  trigger: Trigger,
): Promise<Run> {
  const { kind, target } = runOf(job);
  const run = await p.runs.create(kind, target, trigger, job);
  await p.queue.send({ ...job, runId: run.id } as JobMessage);
  return run;
}

/**
 * `submit` once per `dedupeKey` (an S3 object version, a schedule firing), for events that may come more
 * than once. The job is sent again while its run is still queued, so a send lost after the run was recorded
 * does not leave it stuck; the dispatcher's claim keeps a job sent twice to one task.
 */
export async function submitOnce(
  deps: { runs: RunRegistry; queue: JobQueue },
  job: NewJob,
  trigger: Trigger,
  dedupeKey: string,
): Promise<{ run: Run; created: boolean }> {
  const { kind, target } = runOf(job);
  const { run, created } = await deps.runs.createOnce(kind, target, trigger, dedupeKey, job);
  if (created || run.status === 'queued') await deps.queue.send({ ...job, runId: run.id } as JobMessage);
  return { run, created };
}
