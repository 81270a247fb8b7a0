import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog } from '../catalog-files/loader.ts';
import type { Platform } from '../platform/platform.ts';
import { type IngressOutcome, isInProgressName, onObjectCreated } from '../triggers/ingress.ts';
import { kindOf } from '../util/files.ts';

export interface IngressWatcherOptions {
  /** The largest file taken (the environment's upload limit). */
  readonly maxBytes: number;
  /** How long a file must go unchanged (size and modification time) before it is taken. */
  readonly quietMs: number;
  /** Files remembered at most; the oldest is forgotten first (and found again, harmlessly). @default 10 000 */
  readonly maxTracked?: number;
  /** The clock, in milliseconds (tests set it). */
  readonly now?: () => number;
}

interface Tracked {
  /** Size and modification time when last seen. */
  signature: string;
  /** Reported (taken or refused) for this signature. */
  reported: boolean;
}

/**
 * The local stand-in for S3 object-created events. It takes a file once it is complete by the protocol users
 * know: written under a temporary name (`x.csv.part`, `x.csv.tmp`, `.x.csv`) and renamed to its final name,
 * and then unchanged for `quietMs` (a writer that writes in place is waited for, not read half-way). Only
 * regular files are taken: a link, a pipe or a device is refused with the reason, once, and never read. It
 * remembers only the files present, and at most `maxTracked` of them.
 */
export class IngressWatcher {
  private readonly tracked = new Map<string, Tracked>();
  private readonly now: () => number;
  private readonly maxTracked: number;

  constructor(
    private readonly p: Platform,
    private readonly catalog: Catalog,
    private readonly options: IngressWatcherOptions,
    private readonly onOutcome: (key: string, outcome: IngressOutcome) => void,
  ) {
    this.now = options.now ?? Date.now;
    this.maxTracked = options.maxTracked ?? 10_000;
  }

  /** How many files it remembers now (for tests of its memory). */
  get size(): number {
    return this.tracked.size;
  }

  async poll(): Promise<void> {
    const root = this.p.store.locate('ingress', 'x').replace(/[\\/]x$/, '');
    const present = new Set<string>();
    for await (const { key, stats } of walk(root, '')) {
      present.add(key);
      if (stats.isFile()) await this.consider(key, stats);
      else this.refuse(key, stats);
    }
    for (const key of this.tracked.keys()) if (!present.has(key)) this.tracked.delete(key);
  }

  private remember(key: string, entry: Tracked): void {
    // Map order is insertion order: re-inserting keeps the most recently changed last, the oldest first.
    this.tracked.delete(key);
    this.tracked.set(key, entry);
    while (this.tracked.size > this.maxTracked) this.tracked.delete(this.tracked.keys().next().value!);
  }

  private refuse(key: string, stats: Stats): void {
    const signature = `refused:${kindOf(stats)}`;
    if (this.tracked.get(key)?.signature === signature) return;
    this.remember(key, { signature, reported: true });
    this.onOutcome(key, {
      status: 'rejected',
      reason: `${key}: it is ${kindOf(stats)}; only regular files are taken`,
    });
  }

  private async consider(key: string, stats: Stats): Promise<void> {
    const signature = `${stats.size}@${stats.mtimeMs}`;
    const seen = this.tracked.get(key);
    if (!seen || seen.signature !== signature) {
      this.remember(key, { signature, reported: false });
      return;
    }
    if (seen.reported || this.now() - stats.mtimeMs < this.options.quietMs) return;
    seen.reported = true;
    const outcome = await onObjectCreated(
      { bucket: 'ingress', key, size: stats.size, etag: signature },
      { catalog: this.catalog, runs: this.p.runs, queue: this.p.queue, maxBytes: this.options.maxBytes },
    );
    this.onOutcome(key, outcome);
  }
}

/** Every entry under `dir` but in-progress names, without following links (a link is an entry, not a way in). */
async function* walk(dir: string, prefix: string): AsyncGenerator<{ key: string; stats: Stats }> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (isInProgressName(e.name)) continue;
    const key = `${prefix}${e.name}`;
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      yield* walk(path, `${key}/`);
      continue;
    }
    try {
      yield { key, stats: await lstat(path) };
    } catch {
      // gone since the listing
    }
  }
}
