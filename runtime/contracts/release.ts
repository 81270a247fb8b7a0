import type { Catalog } from '../catalog/loader.ts';
import type { Actor } from '../datasets/current.ts';
import { ConflictError, ContractError, errorToJSON } from '../errors.ts';
import type { JobHooks } from '../jobs/hooks.ts';
import { requireDataset } from '../jobs/ingest.ts';
import type { Platform } from '../platform.ts';
import type { Run, Trigger } from '../runs/schema.ts';
import { ContractRefusal, loadUnderContract, makeReceipt, refusedReceipt } from './load-under-contract.ts';
import { getQuarantined, quarantinePrefix, recordRelease, syncQuarantine } from './quarantine.ts';

/**
 * An operator accepts a file its contract refused: it becomes the version it was given when received,
 * loaded and current as if it had just been sent, with the release (who, when, why) recorded beside it in
 * quarantine. The rules an operator may judge (row counts, change limits, bbox, invalid geometry: kept) are
 * waived; what the table itself enforces (types, required, unique, ranges, allowed values) still holds, so a
 * file with values its columns cannot take needs its catalog changed first. Recorded as an ingest run.
 */
export async function releaseFromQuarantine(
  p: Platform,
  catalog: Catalog,
  ref: string,
  input: { reason: string; actor: Actor; trigger: Trigger },
  hooks: JobHooks = {},
): Promise<Run> {
  await syncQuarantine(p.db, p.store);
  const entry = await getQuarantined(p.db, ref);
  if (entry.release)
    throw new ConflictError(
      `${entry.dataset}/${entry.id} was released on ${entry.release.releasedAt.slice(0, 10)}: it is version ${entry.release.version}`,
    );
  const dataset = requireDataset(catalog, entry.dataset);
  const created = await p.runs.create('ingest', dataset.name, {
    ...input.trigger,
    detail: { ...input.trigger.detail, release: `${entry.dataset}/${entry.id}`, reason: input.reason },
  });
  const run = (await p.runs.start(created.id))!;
  const v = entry.file;
  try {
    hooks.onStep?.({ name: 'load', status: 'start' });
    const t = Date.now();
    const admitted = await loadUnderContract(p.db, p.store, {
      dataset,
      version: v,
      kind: 'released',
      actor: input.actor,
      run: run.id,
      reason: input.reason,
      waive: true,
      onProgress: hooks.onLoadProgress,
      alsoInTransaction: () =>
        recordRelease(p.db, p.store, entry, {
          releasedAt: new Date().toISOString(),
          actor: input.actor,
          reason: input.reason,
          run: run.id,
          version: v.version,
        }),
    });
    hooks.onStep?.({
      name: 'load',
      status: 'done',
      ms: Date.now() - t,
      detail: `${admitted.loaded.rows} rows into datasets."${admitted.loaded.table}"`,
    });
    const f = admitted.facts;
    const receipt = makeReceipt(dataset, v, {
      status: 'accepted',
      run: run.id,
      version: v.version,
      current: admitted.current,
      rows: admitted.loaded.rows,
      ...(f ? { bbox: f.bbox } : {}),
      ...(f?.geometry ? { geometry: f.geometry } : {}),
      ...(f?.change ? { change: f.change } : {}),
      warnings: [
        `released from quarantine by ${input.actor.user ?? input.actor.trigger}: ${input.reason}`,
        ...(f?.warnings ?? []),
      ],
    });
    return await p.runs.succeed(
      run.id,
      {
        dataset: dataset.name,
        version: v.version,
        created: true,
        released: `${entry.dataset}/${entry.id}`,
        sha256: v.sha256,
        size: v.size,
        archiveKey: v.key,
        table: admitted.loaded.table,
        rows: admitted.loaded.rows,
        loaded: admitted.loaded.loaded,
        current: admitted.current,
        receipt,
      },
      { dataset: dataset.name, version: v.version, sha256: v.sha256, origin: v.origin },
    );
  } catch (e) {
    const error =
      e instanceof ContractRefusal
        ? new ContractError(
            { ...e.first, file: v.key },
            refusedReceipt(dataset, v, e, {
              status: 'quarantined',
              run: run.id,
              version: v.version,
              quarantine: {
                id: `${entry.dataset}/${entry.id}`,
                key: quarantinePrefix(entry.dataset, entry.id),
              },
            }),
            `; the release needs the catalog to take these values first (datasets/${dataset.name}.yaml), and the file stays in quarantine`,
          )
        : e;
    return p.runs.fail(run.id, errorToJSON(error));
  }
}
