import type { Actor } from '../archive/current.ts';
import {
  getQuarantined,
  type QuarantineEntry,
  recordRelease,
  syncQuarantine,
} from '../archive/quarantine.ts';
import type { Dataset } from '../catalog/schema.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import {
  type Admitted,
  ContractRefusal,
  loadUnderContract,
  makeReceipt,
  refusedReceipt,
} from '../contracts/load-under-contract.ts';
import { ConflictError, ContractError, errorToJSON, NotFoundError, UsageError } from '../errors.ts';
import { quarantineMetadataKey, quarantinePrefix, quarantineReleaseKey } from '../layout/buckets.ts';
import type { Platform } from '../platform/platform.ts';
import type { JobMessage, JobQueue } from '../ports/job-queue.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { RunRegistry } from '../runs/registry.ts';
import type { Run, Trigger } from '../runs/schema.ts';
import { type JobHooks, type JobOutcome, step } from '../runs/steps.ts';
import { requireDataset } from './ingest.ts';
import { submitOnce } from './submit.ts';

/**
 * An operator accepts a file its contract refused: it becomes the version it was given when received,
 * loaded and current as if it had just been sent, with the release (who, when, why) recorded beside it in
 * quarantine. The rules an operator may judge (row counts, change limits, bbox, invalid geometry: kept) are
 * waived; what the table itself enforces (types, required, unique, ranges, allowed values) still holds, so a
 * file with values its columns cannot take needs its catalog changed first. Recorded as an ingest run.
 *
 * Two ways in, one piece of work (`releaseInto`): `strata quarantine release` works it in its own process;
 * the console queues a `release` job (`queueRelease`), which a worker (`strata serve`, a task on AWS) works.
 */

export interface ReleaseInput {
  readonly reason: string;
  readonly actor: Actor;
}

type ReleaseJob = Extract<JobMessage, { kind: 'release' }>;

const refTo = (entry: { dataset: string; id: string }) => `${entry.dataset}/${entry.id}`;

function releaseTrigger(ref: string, input: ReleaseInput, trigger: Trigger): Trigger {
  return { ...trigger, detail: { ...trigger.detail, release: ref, reason: input.reason } };
}

function alreadyReleased(entry: QuarantineEntry): ConflictError {
  return new ConflictError(
    `${refTo(entry)} was released on ${entry.release!.releasedAt.slice(0, 10)}: it is version ${entry.release!.version}`,
  );
}

/** The work of a release, in run `runId`: the load, the version made current, the release recorded. */
async function releaseInto(
  p: Platform,
  dataset: Dataset,
  entry: QuarantineEntry,
  input: ReleaseInput,
  runId: string,
  hooks: JobHooks,
): Promise<JobOutcome> {
  const v = entry.file;
  try {
    const admitted = await step(
      hooks,
      'load',
      () =>
        loadUnderContract(p.db, p.store, {
          dataset,
          version: v,
          kind: 'released',
          actor: input.actor,
          run: runId,
          reason: input.reason,
          waive: true,
          onProgress: hooks.onLoadProgress,
          alsoInTransaction: () =>
            recordRelease(p.db, p.store, entry, {
              releasedAt: new Date().toISOString(),
              actor: input.actor,
              reason: input.reason,
              run: runId,
              version: v.version,
            }),
        }),
      (a) => `${a.loaded.rows} rows into datasets."${a.loaded.table}"`,
    );
    return released(dataset, entry, input, runId, admitted);
  } catch (e) {
    if (!(e instanceof ContractRefusal)) throw e;
    throw new ContractError(
      { ...e.first, file: v.key },
      refusedReceipt(dataset, v, e, {
        status: 'quarantined',
        run: runId,
        version: v.version,
        quarantine: { id: refTo(entry), key: quarantinePrefix(entry.dataset, entry.id) },
      }),
      `; the release needs the catalog to take these values first (datasets/${dataset.name}.yaml), and the file stays in quarantine`,
    );
  }
}

/** What a release leaves on its run: the version it made, and its receipt as for a file just sent. */
function released(
  dataset: Dataset,
  entry: QuarantineEntry,
  input: ReleaseInput,
  runId: string,
  admitted: Admitted,
): JobOutcome {
  const v = entry.file;
  const f = admitted.facts;
  const receipt = makeReceipt(dataset, v, {
    status: 'accepted',
    run: runId,
    version: v.version,
    current: admitted.current,
    rows: admitted.loaded.rows,
    ...(f ? { bbox: f.bbox } : {}),
    ...(f?.geometry ? { geometry: f.geometry } : {}),
    ...(f?.change ? { change: f.change } : {}),
    warnings: [
      `released from quarantine by ${input.actor.user ?? input.actor.partner ?? input.actor.trigger}: ${input.reason}`,
      ...(f?.warnings ?? []),
    ],
  });
  return {
    result: {
      dataset: dataset.name,
      version: v.version,
      created: true,
      released: refTo(entry),
      sha256: v.sha256,
      size: v.size,
      archiveKey: v.key,
      table: admitted.loaded.table,
      rows: admitted.loaded.rows,
      loaded: admitted.loaded.loaded,
      current: admitted.current,
      receipt,
    },
    lineage: { dataset: dataset.name, version: v.version, sha256: v.sha256, origin: v.origin },
  };
}

/** `strata quarantine release`: records the run and works the release here. */
export async function releaseFromQuarantine(
  p: Platform,
  catalog: Catalog,
  ref: string,
  input: ReleaseInput & { trigger: Trigger },
  hooks: JobHooks = {},
): Promise<Run> {
  await syncQuarantine(p.db, p.store);
  const entry = await getQuarantined(p.db, ref);
  if (entry.release) throw alreadyReleased(entry);
  const dataset = requireDataset(catalog, entry.dataset);
  const created = await p.runs.create(
    'ingest',
    dataset.name,
    releaseTrigger(refTo(entry), input, input.trigger),
  );
  const run = (await p.runs.start(created.id))!;
  try {
    const done = await releaseInto(p, dataset, entry, input, run.id, hooks);
    return await p.runs.succeed(run.id, done.result, done.lineage);
  } catch (e) {
    return p.runs.fail(run.id, errorToJSON(e));
  }
}

/** A `release` job's work, in the run the job was queued for. */
export async function runReleaseJob(
  p: Platform,
  catalog: Catalog,
  job: ReleaseJob,
  run: Run,
  hooks: JobHooks,
): Promise<JobOutcome> {
  await syncQuarantine(p.db, p.store, job.dataset);
  const entry = await getQuarantined(p.db, refTo(job));
  // This run's own release, recorded before its worker could record the run's end: done already.
  if (entry.release?.run === run.id) {
    const v = entry.file;
    return {
      result: {
        dataset: job.dataset,
        version: v.version,
        released: refTo(job),
        sha256: v.sha256,
        size: v.size,
      },
      lineage: { dataset: job.dataset, version: v.version, sha256: v.sha256, origin: v.origin },
    };
  }
  if (entry.release) throw alreadyReleased(entry);
  return releaseInto(p, requireDataset(catalog, job.dataset), entry, job, run.id, hooks);
}

/**
 * The console's release: checks the file is in quarantine and not released (from the archive, which is
 * where quarantine is kept for good: the database need not wake to say no), then records an ingest run and
 * queues its `release` job. `request` makes a form sent twice one release.
 */
export async function queueRelease(
  deps: { runs: RunRegistry; queue: JobQueue; store: ObjectStore; catalog: Catalog },
  file: { dataset: string; id: string },
  input: ReleaseInput & { trigger: Trigger; request: string },
): Promise<{ run: Run; created: boolean }> {
  const reason = input.reason.trim();
  if (!reason) throw new UsageError('a release needs a reason: it is recorded with who and when');
  requireDataset(deps.catalog, file.dataset);
  if (!(await deps.store.exists('archive', quarantineMetadataKey(file.dataset, file.id))))
    throw new NotFoundError(`no file "${refTo(file)}" in quarantine`);
  if (await deps.store.exists('archive', quarantineReleaseKey(file.dataset, file.id)))
    throw new ConflictError(`${refTo(file)} has been released already`);
  const actor = input.actor;
  return submitOnce(
    deps,
    { kind: 'release', dataset: file.dataset, id: file.id, reason, actor },
    releaseTrigger(refTo(file), { reason, actor }, input.trigger),
    `release:${refTo(file)}:${input.request}`,
  );
}
