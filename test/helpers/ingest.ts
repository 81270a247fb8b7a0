import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Receipt } from '../../runtime/archive/receipt.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import type { Run, Trigger } from '../../runtime/runs/schema.ts';
import type { TestPlatform } from './engines.ts';

let sent = 0;

/**
 * Sends `body` as the file `name` to `dataset`, as a trigger would (someone at the command line unless told),
 * and works the queue until its run has finished. Each send is a file of its own, so none overwrites another.
 */
export async function sendFile(
  p: TestPlatform,
  catalog: Catalog,
  dataset: string,
  name: string,
  body: Buffer | string,
  trigger: Trigger = { kind: 'cli', by: 'ann' },
): Promise<Run> {
  const dir = join(p.dir, 'sent');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${++sent}-${name}`);
  await writeFile(path, body);
  const queued = await submit(p, { kind: 'ingest', dataset, source: { path }, filename: name }, trigger);
  return workUntil(p, catalog, queued.id, {}, 10);
}

/** The receipt of an ingest, whether it succeeded or was refused. */
export const receiptOf = (run: Run): Receipt => Receipt.parse(run.result?.receipt ?? run.error?.receipt);
