import { type DatasetVersion, type Origin, receiveFile } from '../archive/archive.ts';
import { recordLoad } from '../archive/loads.ts';
import type { Dataset } from '../catalog/schema.ts';
import { type Catalog, unavailable } from '../catalog-files/loader.ts';
import { extentOf, resendProblems } from '../contracts/accept.ts';
import {
  ContractRefusal,
  firstProblem,
  loadUnderContract,
  makeReceipt,
  refusedReceipt,
} from '../contracts/load-under-contract.ts';
import {
  findQuarantinedBySha,
  type QuarantineEntry,
  quarantineFile,
  recordRelease,
} from '../contracts/quarantine.ts';
import type { Receipt, ReceiptChange, ReceiptCurrent } from '../contracts/receipt.ts';
import { contractHash, percentChange } from '../contracts/rules.ts';
import { type Actor, actorOf, lockDataset, makeCurrent, syncEvents } from '../datasets/current.ts';
import { ContractError } from '../errors.ts';
import { quarantinePrefix } from '../layout/buckets.ts';
import type { Platform } from '../platform/platform.ts';
import type { JobHooks } from '../runs/steps.ts';

export function requireDataset(catalog: Catalog, name: string) {
  const d = catalog.datasets.get(name);
  if (!d) throw unavailable(catalog, 'dataset', name);
  return d;
}

const plural = (n: number, word: string) =>
  n === 1 ? `1 ${word}` : `${n} ${word.endsWith('y') ? `${word.slice(0, -1)}ies` : `${word}s`}`;

/**
 * Receives a file for a dataset and makes it the dataset's current version, if its contract allows: new
 * bytes are archived, loaded and checked, and become a version only if they pass (otherwise they are
 * quarantined, with a receipt listing every problem); the bytes of an existing version make that version
 * current again. The run's result carries the receipt; a refusal carries it in its error.
 */
export async function runIngest(
  p: Platform,
  catalog: Catalog,
  input: { dataset: string; path: string; filename: string; origin: Origin; runId?: string },
  hooks: JobHooks = {},
): Promise<{ result: Record<string, unknown>; lineage: Record<string, unknown> }> {
  const dataset = requireDataset(catalog, input.dataset);
  const run = input.runId;
  const actor: Actor = run ? actorOf((await p.runs.get(run)).trigger) : { trigger: 'direct' };
  // After a database rebuild, the archive says again which version is current.
  await syncEvents(p.db, p.store, dataset.name);

  hooks.onStep?.({ name: 'archive', status: 'start' });
  let t = Date.now();
  const received = await receiveFile(
    p.db,
    p.store,
    {
      dataset: dataset.name,
      path: input.path,
      filename: input.filename,
      origin: input.origin,
      maxBytes: dataset.maxBytes,
    },
    async (sha) => (await findQuarantinedBySha(p.db, p.store, dataset.name, sha))?.file,
  );
  const v = received.version;
  hooks.onStep?.({
    name: 'archive',
    status: 'done',
    ms: Date.now() - t,
    detail:
      received.state === 'version'
        ? `same bytes as version ${v.version}`
        : received.state === 'quarantined'
          ? `same bytes as the file quarantined as ${dataset.name}/${v.version}`
          : received.copied
            ? `received as ${v.version}`
            : `received before as ${v.version}, not yet loaded`,
  });
  // Quarantined bytes are judged again only when the contract has changed since they were refused.
  let judgedAgain: QuarantineEntry | undefined;
  if (received.state === 'quarantined') {
    const entry = await findQuarantinedBySha(p.db, p.store, dataset.name, v.sha256);
    if (!entry || entry.receipt.contract === contractHash(dataset)) throw stillQuarantined(dataset, v, entry);
    judgedAgain = entry;
  }

  hooks.onStep?.({ name: 'load', status: 'start' });
  t = Date.now();
  const [loadedRow] = await p.db.query<{ loaded_table: string | null; row_count: string | null }>(
    'SELECT loaded_table, row_count::text AS row_count FROM strata.dataset_versions WHERE dataset = $1 AND version = $2',
    [dataset.name, v.version],
  );
  let outcome: {
    table: string;
    rows: number;
    loaded: boolean;
    copies?: number;
    current: ReceiptCurrent;
    bbox?: [number, number, number, number] | null;
    geometry?: Receipt['geometry'];
    change?: ReceiptChange;
    warnings: string[];
  };
  try {
    if (received.state === 'version' && loadedRow?.loaded_table)
      outcome = await makeCurrentAgain(p, dataset, v, {
        table: loadedRow.loaded_table,
        rows: Number(loadedRow.row_count),
        actor,
        run,
      });
    else {
      const admitted = await loadUnderContract(p.db, p.store, {
        dataset,
        version: v,
        kind: received.state === 'version' ? 'resent' : 'sent',
        actor,
        run,
        onProgress: hooks.onLoadProgress,
        onStep: hooks.onStep,
        ...(judgedAgain ? acceptedNow(judgedAgain, dataset, actor, run, p) : {}),
      });
      const f = admitted.facts;
      outcome = {
        table: admitted.loaded.table,
        rows: admitted.loaded.rows,
        loaded: admitted.loaded.loaded,
        copies: admitted.loaded.copies,
        current: admitted.current,
        ...(f ? { bbox: f.bbox, geometry: f.geometry, change: f.change } : {}),
        warnings: f?.warnings ?? [],
      };
    }
  } catch (e) {
    if (!(e instanceof ContractRefusal)) throw e;
    if (judgedAgain) throw stillRefused(dataset, v, e, run, judgedAgain);
    throw received.state === 'new'
      ? await quarantine(p, dataset, v, e, actor, run)
      : refuse(dataset, v, e, run, loadedRow?.row_count);
  }
  // Lets `strata versions` answer from the archive; without the record it asks the database, so a failure
  // here costs speed, never truth, and does not fail a load that has committed.
  if (outcome.loaded) await recordLoad(p.db, p.store, dataset.name, v.version).catch(() => undefined);
  hooks.onStep?.({
    name: 'load',
    status: 'done',
    ms: Date.now() - t,
    detail: `${
      outcome.loaded
        ? `${outcome.rows} rows into datasets."${outcome.table}"${(outcome.copies ?? 1) > 1 ? ` (${outcome.copies} COPY statements at once)` : ''}`
        : 'already loaded'
    }${outcome.geometry?.repaired ? `; ${plural(outcome.geometry.repaired, 'invalid geometry')} repaired` : ''}${outcome.geometry?.kept ? `; ${plural(outcome.geometry.kept, 'invalid geometry')} kept` : ''}`,
  });
  const receipt = makeReceipt(dataset, v, {
    status: 'accepted',
    ...(run ? { run } : {}),
    version: v.version,
    current: outcome.current,
    rows: outcome.rows,
    ...(outcome.bbox !== undefined ? { bbox: outcome.bbox } : {}),
    ...(outcome.geometry ? { geometry: outcome.geometry } : {}),
    ...(outcome.change ? { change: outcome.change } : {}),
    warnings: outcome.warnings,
  });
  return {
    result: {
      dataset: dataset.name,
      version: v.version,
      // Bytes out of quarantine are a new version too.
      created: received.state !== 'version',
      ...(received.state === 'version' ? { duplicateOf: v.version } : {}),
      sha256: v.sha256,
      size: v.size,
      archiveKey: v.key,
      table: outcome.table,
      rows: outcome.rows,
      loaded: outcome.loaded,
      ...(outcome.copies ? { copies: outcome.copies } : {}),
      current: outcome.current,
      receipt,
    },
    lineage: { dataset: dataset.name, version: v.version, sha256: v.sha256, origin: v.origin },
  };
}

/**
 * The bytes of a loaded version, sent again: "this is the data now". The version becomes current again
 * (an event of its own), if the change limits allow it against what is current now.
 */
async function makeCurrentAgain(
  p: Platform,
  dataset: Dataset,
  v: DatasetVersion,
  x: { table: string; rows: number; actor: Actor; run?: string },
) {
  const moved = await p.db.transaction(async () => {
    await lockDataset(p.db, dataset.name);
    const { problems, current } = await resendProblems(p.db, dataset, {
      version: v.version,
      rows: x.rows,
      table: x.table,
    });
    if (problems.length > 0)
      throw new ContractRefusal(firstProblem(v.key, problems[0]), problems, false, undefined, current);
    const moved = await makeCurrent(p.db, p.store, {
      dataset: dataset.name,
      version: v.version,
      kind: 'resent',
      actor: x.actor,
      run: x.run,
    });
    return { moved, current };
  });
  const bbox = dataset.geometry.kind === 'none' ? undefined : await extentOf(p.db, x.table);
  const c = moved.current;
  return {
    table: x.table,
    rows: x.rows,
    loaded: false,
    current: moved.moved,
    bbox,
    ...(c && moved.moved.changed
      ? {
          change: {
            against: c.version,
            rowsBefore: c.rows,
            rowsAfter: x.rows,
            rowsPercent: percentChange(c.rows, x.rows),
          },
        }
      : {}),
    warnings: [],
  };
}

/** Keeps a refused new file in quarantine and says so, with its receipt. */
async function quarantine(
  p: Platform,
  dataset: Dataset,
  v: DatasetVersion,
  refusal: ContractRefusal,
  actor: Actor,
  run: string | undefined,
): Promise<ContractError> {
  const id = `${dataset.name}/${v.version}`;
  const receipt = refusedReceipt(dataset, v, refusal, {
    status: 'quarantined',
    ...(run ? { run } : {}),
    version: v.version,
    quarantine: { id, key: quarantinePrefix(dataset.name, v.version) },
  });
  await quarantineFile(p.db, p.store, { file: v, receipt, actor, run });
  const more = refusal.problems.length - 1;
  return new ContractError(
    { ...refusal.first, file: v.key },
    receipt,
    `${more > 0 ? ` (and ${plural(more, 'more kind')} of problem)` : ''}; the file is quarantined as ${id}, not a version, and the current version is unchanged`,
  );
}

/** A version sent again that its contract refuses now: it stays a version, and does not become current. */
function refuse(
  dataset: Dataset,
  v: DatasetVersion,
  refusal: ContractRefusal,
  run: string | undefined,
  rows: string | null | undefined,
): ContractError {
  const receipt = refusedReceipt(dataset, v, refusal, {
    status: 'refused',
    ...(run ? { run } : {}),
    version: v.version,
    ...(rows ? { rows: Number(rows) } : {}),
  });
  return new ContractError(
    { ...refusal.first, file: v.key },
    receipt,
    `; version ${v.version} stays a version but does not become current (strata datasets promote makes it current deliberately)`,
  );
}

/**
 * Quarantined bytes that pass the contract in force now: they become the version they were given when
 * received, and the quarantine records why they left it (in the load's transaction, as a release does).
 */
function acceptedNow(
  entry: QuarantineEntry,
  dataset: Dataset,
  actor: Actor,
  run: string | undefined,
  p: Platform,
): { reason: string; alsoInTransaction: () => Promise<void> } {
  const reason = `sent again after datasets/${dataset.name}.yaml changed: accepted against the contract in force now (quarantined on ${entry.quarantinedAt.slice(0, 10)} under another)`;
  return {
    reason,
    alsoInTransaction: () =>
      recordRelease(p.db, p.store, entry, {
        releasedAt: new Date().toISOString(),
        actor,
        reason,
        ...(run ? { run } : {}),
        version: entry.id,
      }),
  };
}

/** Quarantined bytes that the contract in force now refuses too: they stay in quarantine, with today's receipt. */
function stillRefused(
  dataset: Dataset,
  v: DatasetVersion,
  refusal: ContractRefusal,
  run: string | undefined,
  entry: QuarantineEntry,
): ContractError {
  const id = `${dataset.name}/${v.version}`;
  const receipt = refusedReceipt(dataset, v, refusal, {
    status: 'quarantined',
    ...(run ? { run } : {}),
    version: v.version,
    quarantine: { id, key: quarantinePrefix(dataset.name, v.version) },
  });
  return new ContractError(
    { ...refusal.first, file: v.key },
    receipt,
    `; judged again against datasets/${dataset.name}.yaml as it is now (it changed since the file was quarantined on ${entry.quarantinedAt.slice(0, 10)}), the file stays quarantined as ${id}`,
  );
}

/** The bytes of a file already in quarantine, under the contract that refused them: still refused, with that receipt. */
function stillQuarantined(
  dataset: Dataset,
  v: DatasetVersion,
  entry: QuarantineEntry | undefined,
): ContractError {
  const id = `${dataset.name}/${v.version}`;
  return new ContractError(
    {
      file: v.key,
      reason: `same bytes as the file quarantined as ${id} on ${entry?.quarantinedAt.slice(0, 10) ?? '?'}: still quarantined (strata quarantine release ${id} --reason "..." accepts it)`,
    },
    entry?.receipt ?? makeReceipt(dataset, v, { status: 'quarantined' }),
  );
}
