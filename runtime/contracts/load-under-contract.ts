import { completeVersion, type DatasetVersion } from '../archive/archive.ts';
import { type Actor, type DatasetEvent, lockDataset } from '../archive/current.ts';
import type { Problem, Receipt, ReceiptCurrent } from '../archive/receipt.ts';
import type { Dataset } from '../catalog/schema.ts';
import { LoadError, type LoadProblem } from '../errors.ts';
import { RecordTooLargeError } from '../load/csv-records.ts';
import { type LoadResult, loadVersion, makeCurrent } from '../load/load.ts';
import { CopyRejectedError, type Database } from '../ports/database.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { type JobHooks, type LoadProgress, step } from '../runs/steps.ts';
import { ContractBrokenSignal, checkLoaded, currentFacts, type LoadedFacts } from './accept.ts';
import { type Diagnosis, diagnose, NotDiagnosableError } from './diagnose.ts';
import { type CurrentFacts, contractHash, fileProblem, percentChange } from './rules.ts';

/** How a version comes to be loaded and current: sent, sent again, released from quarantine, promoted. */
export interface Admission {
  readonly dataset: Dataset;
  readonly version: DatasetVersion;
  readonly kind: DatasetEvent['kind'];
  readonly actor: Actor;
  readonly run?: string;
  readonly reason?: string;
  /** An operator's release or promotion: only the rules the table itself enforces hold. */
  readonly waive?: boolean;
  readonly onProgress?: (p: LoadProgress) => void;
  /** Told when a refused file has been read again to list every problem (it takes a while on a large one). */
  readonly onStep?: JobHooks['onStep'];
  /** Build the spatial index (default true; the benchmark times a load without one too). */
  readonly index?: boolean;
  /** More to record in the same transaction, once the file is a version and current (a release's record). */
  readonly alsoInTransaction?: () => Promise<void>;
}

export interface Admitted {
  readonly loaded: LoadResult;
  readonly facts?: LoadedFacts;
  readonly current: ReceiptCurrent;
}

/** A file its contract refused, with every problem found (or the load's own refusal when it could not be read row by row). */
export class ContractRefusal extends Error {
  constructor(
    readonly first: LoadProblem,
    readonly problems: Problem[],
    readonly truncated: boolean,
    readonly diagnosis: Diagnosis | undefined,
    readonly current: CurrentFacts | undefined,
  ) {
    super(problems.map((p) => p.message).join('; '));
    this.name = 'ContractRefusal';
  }
}

/**
 * Loads an archived file under its dataset's contract and, in the same transaction, makes it a version
 * (metadata.json) and the current one. A file that breaks the contract leaves nothing loaded and throws
 * ContractRefusal listing every problem; other failures (the database going away) are thrown as they are.
 */
export async function loadUnderContract(db: Database, store: ObjectStore, a: Admission): Promise<Admitted> {
  const { dataset, version } = a;
  let facts: LoadedFacts | undefined;
  let current: ReceiptCurrent | undefined;
  const move = () =>
    makeCurrent(db, store, {
      dataset: dataset.name,
      version: version.version,
      kind: a.kind,
      actor: a.actor,
      run: a.run,
      reason: a.reason,
    });
  try {
    const loaded = await loadVersion(db, store, dataset, version, {
      onProgress: a.onProgress,
      index: a.index,
      accept: async (l) => {
        await lockDataset(db, dataset.name);
        facts = await checkLoaded(db, store, dataset, version, l, { waive: a.waive });
        await completeVersion(db, store, version);
        current = await move();
        await a.alsoInTransaction?.();
      },
    });
    // Loaded before (by a run that stopped after its commit): it only has to become current.
    if (!loaded.loaded)
      current = await db.transaction(async () => {
        const moved = await move();
        await a.alsoInTransaction?.();
        return moved;
      });
    return { loaded, facts, current: current! };
  } catch (e) {
    if (!(e instanceof ContractBrokenSignal) && !(e instanceof LoadError)) throw e;
    throw await step(
      { onStep: a.onStep },
      'contract',
      () => explainRefusal(db, store, dataset, version, e, a.waive),
      (refusal) => `refused: ${refusal.problems.length} kind(s) of problem, every row read to count them`,
    );
  }
}

/** Reads a refused file again to list every problem; falls back to the load's own refusal. */
async function explainRefusal(
  db: Database,
  store: ObjectStore,
  dataset: Dataset,
  version: DatasetVersion,
  refusal: ContractBrokenSignal | LoadError,
  waive?: boolean,
): Promise<ContractRefusal> {
  const current = await currentFacts(db, dataset, version.version);
  let diagnosis: Diagnosis | undefined;
  try {
    diagnosis = await diagnose(db, store, dataset, version, { current, waive });
  } catch (e) {
    // What stopped the load stops this reading too (a record too long, bytes PostgreSQL cannot hold):
    // the load's own refusal is then the receipt's.
    if (
      !(
        e instanceof NotDiagnosableError ||
        e instanceof RecordTooLargeError ||
        e instanceof CopyRejectedError
      )
    )
      throw e;
  }
  let problems = diagnosis?.problems ?? [];
  if (problems.length === 0)
    problems = refusal instanceof LoadError ? [asProblem(dataset, refusal)] : refusal.problems;
  const first: LoadProblem =
    refusal instanceof LoadError ? refusal.problem : firstProblem(version.key, problems[0]);
  return new ContractRefusal(first, problems, diagnosis?.truncated ?? false, diagnosis, current);
}

/** The load's own refusal as a receipt's problem: the file as a whole, or its header. */
function asProblem(dataset: Dataset, e: LoadError): Problem {
  const p = e.problem;
  const header = dataset.format === 'csv' && p.line === 1;
  const column = p.column;
  const where =
    p.line !== undefined ? `line ${p.line}: ` : p.feature !== undefined ? `feature ${p.feature}: ` : '';
  return {
    ...fileProblem(
      header ? 'header' : 'file',
      `${where}${column && !header ? `column "${column}": ` : ''}${p.reason}`,
      column,
    ),
    at: p.line !== undefined ? [{ line: p.line }] : p.feature !== undefined ? [{ feature: p.feature }] : [],
  };
}

/** Where a refusal's first problem is, as a LoadError names it. */
export function firstProblem(file: string, p: Problem | undefined): LoadProblem {
  const at = p?.at[0];
  return {
    file,
    ...(at?.line !== undefined ? { line: at.line } : {}),
    ...(at?.feature !== undefined ? { feature: at.feature } : {}),
    ...(p?.column ? { column: p.column } : {}),
    reason: p?.message ?? 'the file breaks its contract',
  };
}

/** A receipt for a file of `dataset`: what every receipt says of the file and the dataset, and `fields`. */
export function makeReceipt(
  dataset: Dataset,
  version: DatasetVersion,
  fields: Pick<Receipt, 'status'> & Partial<Omit<Receipt, 'receipt' | 'dataset' | 'file' | 'columns'>>,
): Receipt {
  const g = dataset.geometry;
  return {
    receipt: 1,
    dataset: dataset.name,
    file: {
      filename: version.filename,
      sha256: version.sha256,
      size: version.size,
      receivedAt: version.receivedAt,
    },
    madeAt: new Date().toISOString(),
    contract: contractHash(dataset),
    columns: dataset.columns.map((c) => ({
      name: c.name,
      type: c.type,
      ...(c.source ? { source: c.source } : {}),
    })),
    ...(g.kind === 'none' ? {} : { crs: `EPSG:${g.targetSrid}` }),
    problems: [],
    truncated: false,
    warnings: [],
    ...fields,
  };
}

/** The receipt of a refused file, from what its refusal found. */
export function refusedReceipt(
  dataset: Dataset,
  version: DatasetVersion,
  refusal: ContractRefusal,
  fields: Pick<Receipt, 'status'> & Partial<Receipt>,
): Receipt {
  const d = refusal.diagnosis;
  const g = dataset.geometry;
  const rows = d?.rows ?? fields.rows;
  return makeReceipt(dataset, version, {
    ...(rows !== undefined ? { rows } : {}),
    ...(d?.geometry && g.kind !== 'none'
      ? {
          geometry: {
            policy: dataset.invalidGeometry,
            invalid: d.geometry.invalid,
            repaired: 0,
            kept: 0,
            at: d.geometry.at,
          },
        }
      : {}),
    ...(rows !== undefined && refusal.current
      ? {
          change: {
            against: refusal.current.version,
            rowsBefore: refusal.current.rows,
            rowsAfter: rows,
            rowsPercent: percentChange(refusal.current.rows, rows),
          },
        }
      : {}),
    problems: refusal.problems,
    truncated: refusal.truncated,
    ...fields,
  });
}
