import {
  type DatasetVersion,
  loadedVersion,
  type Origin,
  type Received,
  receiveFile,
} from '../archive/archive.ts';
import { type Actor, actorOf, lockDataset, syncEvents } from '../archive/current.ts';
import { recordLoad } from '../archive/loads.ts';
import {
  findQuarantinedBySha,
  type QuarantineEntry,
  quarantineFile,
  recordJudgedAgain,
  recordRelease,
} from '../archive/quarantine.ts';
import type { Receipt, ReceiptChange, ReceiptCurrent } from '../archive/receipt.ts';
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
import { contractHash, percentChange } from '../contracts/rules.ts';
import { ContractError } from '../errors.ts';
import { quarantinePrefix } from '../layout/buckets.ts';
import { makeCurrent } from '../load/load.ts';
import type { Platform } from '../platform/platform.ts';
import { type JobHooks, step } from '../runs/steps.ts';

export function requireDataset(catalog: Catalog, name: string) {
  const d = catalog.datasets.get(name);
  if (!d) throw unavailable(catalog, 'dataset', name);
  return d;
}

const plural = (n: number, word: string) =>
  n === 1 ? `1 ${word}` : `${n} ${word.endsWith('y') ? `${word.slice(0, -1)}ies` : `${word}s`}`;

/** What loading a received file came to, whichever way it went. */
interface Outcome {
  readonly table: string;
  readonly rows: number;
  readonly loaded: boolean;
  readonly copies?: number;
  readonly current: ReceiptCurrent;
  readonly bbox?: [number, number, number, number] | null;
  readonly geometry?: Receipt['geometry'];
  readonly change?: ReceiptChange;
  readonly warnings: string[];
}

/** Who sent it and for which run: what every record of the ingest carries. */
interface Sender {
  readonly actor: Actor;
  readonly run?: string;
}

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
  const received = await step(
    hooks,
    'archive',
    () => receive(p, dataset, input),
    (r) => receivedDetail(dataset, r),
  );
  const judgedAgain = await toJudgeAgain(p, dataset, received);
  const outcome = await step(
    hooks,
    'load',
    () => loadReceived(p, dataset, received, { actor, run }, { hooks, judgedAgain }),
    loadedDetail,
  );
  return ingestResult(dataset, received, outcome, run);
}

/** The file into the archive, unless its bytes are there already (a version, or in quarantine). */
function receive(
  p: Platform,
  dataset: Dataset,
  input: { path: string; filename: string; origin: Origin },
): Promise<Received> {
  return receiveFile(
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
}

function receivedDetail(dataset: Dataset, received: Received): string {
  const v = received.version;
  if (received.state === 'version') return `same bytes as version ${v.version}`;
  if (received.state === 'quarantined')
    return `same bytes as the file quarantined as ${dataset.name}/${v.version}`;
  return received.copied ? `received as ${v.version}` : `received before as ${v.version}, not yet loaded`;
}

/** Quarantined bytes are judged again only when the contract has changed since they were refused. */
async function toJudgeAgain(
  p: Platform,
  dataset: Dataset,
  received: Received,
): Promise<QuarantineEntry | undefined> {
  if (received.state !== 'quarantined') return undefined;
  const v = received.version;
  const entry = await findQuarantinedBySha(p.db, p.store, dataset.name, v.sha256);
  if (!entry || entry.receipt.contract === contractHash(dataset)) throw stillQuarantined(dataset, v, entry);
  return entry;
}

/**
 * Loads received bytes under the contract, or makes a loaded version current again; a refusal becomes the
 * error that carries its receipt (quarantined, refused, or still quarantined).
 */
async function loadReceived(
  p: Platform,
  dataset: Dataset,
  received: Received,
  sender: Sender,
  x: { hooks: JobHooks; judgedAgain?: QuarantineEntry },
): Promise<Outcome> {
  const v = received.version;
  const loaded = await loadedVersion(p.db, dataset.name, v.version);
  let outcome: Outcome;
  try {
    outcome =
      received.state === 'version' && loaded
        ? await makeCurrentAgain(p, dataset, v, { ...loaded, ...sender })
        : await admit(p, dataset, received, sender, x);
  } catch (e) {
    if (!(e instanceof ContractRefusal)) throw e;
    if (x.judgedAgain) throw await stillRefused(p, dataset, v, e, sender.run, x.judgedAgain);
    throw received.state === 'new'
      ? await quarantine(p, dataset, v, e, sender.actor, sender.run)
      : refuse(dataset, v, e, sender.run, loaded?.rows);
  }
  // Lets `strata versions` answer from the archive; without the record it asks the database, so a failure
  // here costs speed, never truth, and does not fail a load that has committed.
  if (outcome.loaded) await recordLoad(p.db, p.store, dataset.name, v.version).catch(() => undefined);
  return outcome;
}

/** New bytes, or a version not loaded in this database: loaded and held to the contract. */
async function admit(
  p: Platform,
  dataset: Dataset,
  received: Received,
  sender: Sender,
  x: { hooks: JobHooks; judgedAgain?: QuarantineEntry },
): Promise<Outcome> {
  const admitted = await loadUnderContract(p.db, p.store, {
    dataset,
    version: received.version,
    kind: received.state === 'version' ? 'resent' : 'sent',
    actor: sender.actor,
    run: sender.run,
    onProgress: x.hooks.onLoadProgress,
    onStep: x.hooks.onStep,
    ...(x.judgedAgain ? acceptedNow(x.judgedAgain, dataset, sender.actor, sender.run, p) : {}),
  });
  const f = admitted.facts;
  return {
    table: admitted.loaded.table,
    rows: admitted.loaded.rows,
    loaded: admitted.loaded.loaded,
    copies: admitted.loaded.copies,
    current: admitted.current,
    ...(f ? { bbox: f.bbox, geometry: f.geometry, change: f.change } : {}),
    warnings: f?.warnings ?? [],
  };
}

function loadedDetail(outcome: Outcome): string {
  const copies = (outcome.copies ?? 1) > 1 ? ` (${outcome.copies} COPY statements at once)` : '';
  const what = outcome.loaded
    ? `${outcome.rows} rows into datasets."${outcome.table}"${copies}`
    : 'already loaded';
  const g = outcome.geometry;
  return `${what}${g?.repaired ? `; ${plural(g.repaired, 'invalid geometry')} repaired` : ''}${g?.kept ? `; ${plural(g.kept, 'invalid geometry')} kept` : ''}`;
}

/** The run's result and lineage, with the receipt of an accepted file. */
function ingestResult(
  dataset: Dataset,
  received: Received,
  outcome: Outcome,
  run: string | undefined,
): { result: Record<string, unknown>; lineage: Record<string, unknown> } {
  const v = received.version;
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
  rows: number | undefined,
): ContractError {
  const receipt = refusedReceipt(dataset, v, refusal, {
    status: 'refused',
    ...(run ? { run } : {}),
    version: v.version,
    ...(rows !== undefined ? { rows } : {}),
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
async function stillRefused(
  p: Platform,
  dataset: Dataset,
  v: DatasetVersion,
  refusal: ContractRefusal,
  run: string | undefined,
  entry: QuarantineEntry,
): Promise<ContractError> {
  const id = `${dataset.name}/${v.version}`;
  const receipt = refusedReceipt(dataset, v, refusal, {
    status: 'quarantined',
    ...(run ? { run } : {}),
    version: v.version,
    quarantine: { id, key: quarantinePrefix(dataset.name, v.version) },
  });
  await recordJudgedAgain(p.db, p.store, entry, receipt);
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
