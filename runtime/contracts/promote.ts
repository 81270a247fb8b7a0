import { findVersion, loadedVersion } from '../archive/archive.ts';
import { type Actor, syncEvents } from '../archive/current.ts';
import type { ReceiptCurrent } from '../archive/receipt.ts';
import type { Dataset } from '../catalog/schema.ts';
import { ContractError, NotFoundError } from '../errors.ts';
import { makeCurrent } from '../load/load.ts';
import type { Platform } from '../platform/platform.ts';
import { ContractRefusal, loadUnderContract, refusedReceipt } from './load-under-contract.ts';

/**
 * Makes a version the dataset's current one without sending anything: an operator's rollback, recorded
 * with who and why. A version not loaded in this database (after a rebuild) is loaded first; only the
 * rules its table enforces hold then, as the operator chose it.
 */
export async function promote(
  p: Platform,
  dataset: Dataset,
  versionId: string,
  input: { reason: string; actor: Actor },
): Promise<{ current: ReceiptCurrent; loaded: boolean }> {
  await syncEvents(p.db, p.store, dataset.name);
  const version = await findVersion(p.db, p.store, dataset.name, versionId);
  if (!version)
    throw new NotFoundError(
      `dataset "${dataset.name}" has no version "${versionId}" (see: strata versions ${dataset.name}; a file in quarantine becomes a version with strata quarantine release)`,
    );
  const loaded = await loadedVersion(p.db, dataset.name, versionId);
  const move = { kind: 'promoted' as const, actor: input.actor, reason: input.reason };
  if (loaded)
    return {
      current: await makeCurrent(p.db, p.store, { dataset: dataset.name, version: versionId, ...move }),
      loaded: false,
    };
  try {
    const admitted = await loadUnderContract(p.db, p.store, { dataset, version, ...move, waive: true });
    return { current: admitted.current, loaded: true };
  } catch (e) {
    if (!(e instanceof ContractRefusal)) throw e;
    throw new ContractError(
      { ...e.first, file: version.key },
      refusedReceipt(dataset, version, e, { status: 'refused', version: versionId }),
      `; version ${versionId} cannot be loaded under the catalog as it is now, and the current version is unchanged`,
    );
  }
}
