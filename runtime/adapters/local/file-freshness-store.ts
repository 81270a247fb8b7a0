import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PublishSummary } from '../../ports/federation.ts';
import type { FreshnessEntry, FreshnessStore, RefusedEntry } from '../../ports/freshness-store.ts';

async function readJsonFiles<T>(dir: string): Promise<T[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return Promise.all(names.sort().map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as T));
}

/**
 * The core's freshness table as files, for `strata serve --core`: `latest/<child>/<product>.json` and one
 * file per refusal in `refused/`. Writes go to a temporary file renamed into place; one core process writes,
 * one request at a time, so a read-then-write cannot race.
 */
export class FileFreshnessStore implements FreshnessStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly dir: string) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  private async write(path: string, value: unknown): Promise<void> {
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
    await rename(tmp, path);
  }

  record(entry: FreshnessEntry): Promise<boolean> {
    return this.serial(async () => {
      const dir = join(this.dir, 'latest', entry.summary.child);
      await mkdir(dir, { recursive: true });
      const path = join(dir, `${entry.summary.product}.json`);
      try {
        const kept = JSON.parse(await readFile(path, 'utf8')) as FreshnessEntry;
        if (kept.summary.publishedAt >= entry.summary.publishedAt) return false;
      } catch {
        // Nothing kept yet for this product.
      }
      await this.write(path, entry);
      return true;
    });
  }

  refuse(entry: RefusedEntry): Promise<void> {
    return this.serial(async () => {
      const dir = join(this.dir, 'refused');
      await mkdir(dir, { recursive: true });
      const name = `${entry.receivedAt.replace(/[:.]/g, '')}-${randomBytes(4).toString('hex')}.json`;
      await this.write(join(dir, name), entry);
    });
  }

  async read(): Promise<{ latest: FreshnessEntry[]; refused: RefusedEntry[] }> {
    const latest: FreshnessEntry[] = [];
    let children: string[] = [];
    try {
      children = await readdir(join(this.dir, 'latest'));
    } catch {
      children = [];
    }
    for (const child of children.sort())
      for (const e of await readJsonFiles<FreshnessEntry>(join(this.dir, 'latest', child)))
        latest.push({ summary: PublishSummary.parse(e.summary), receivedAt: e.receivedAt });
    return { latest, refused: await readJsonFiles<RefusedEntry>(join(this.dir, 'refused')) };
  }
}
