import { stat } from 'node:fs/promises';
import type { Catalog } from '../catalog/loader.ts';
import type { Platform } from '../platform.ts';
import { type IngressOutcome, onObjectCreated } from '../triggers/ingress.ts';

/**
 * The local stand-in for S3 object-created events: polls the ingress folder and reports each file once its
 * size and modification time have held still for one poll (so a file still being copied in is not taken).
 */
export class IngressWatcher {
  private seen = new Map<string, string>();
  private reported = new Set<string>();

  constructor(
    private readonly p: Platform,
    private readonly catalog: Catalog,
    private readonly maxBytes: number,
    private readonly onOutcome: (key: string, outcome: IngressOutcome) => void,
  ) {}

  async poll(): Promise<void> {
    const objects = await this.p.store.list('ingress', '');
    for (const o of objects) {
      let mtime: number;
      try {
        mtime = (await stat(this.p.store.locate('ingress', o.key))).mtimeMs;
      } catch {
        continue;
      }
      const signature = `${o.size}@${mtime}`;
      const id = `${o.key}#${signature}`;
      if (this.reported.has(id)) continue;
      if (this.seen.get(o.key) !== signature) {
        this.seen.set(o.key, signature);
        continue;
      }
      this.reported.add(id);
      const outcome = await onObjectCreated(
        { bucket: 'ingress', key: o.key, size: o.size, etag: signature },
        { catalog: this.catalog, runs: this.p.runs, queue: this.p.queue, maxBytes: this.maxBytes },
      );
      this.onOutcome(o.key, outcome);
    }
  }
}
