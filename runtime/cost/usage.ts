import { AsyncLocalStorage } from 'node:async_hooks';
import { z } from 'zod';

/** What one run asked of the paid services, counted by the adapters as the run calls them. */
export const UsageCounts = z.object({
  s3: z.object({
    /** PUT requests, a multipart upload's parts counted one each (S3 prices PUT, COPY, POST and LIST alike). */
    putRequests: z.number().int().nonnegative(),
    listRequests: z.number().int().nonnegative(),
    /** GET and HEAD are priced alike. */
    getRequests: z.number().int().nonnegative(),
    headRequests: z.number().int().nonnegative(),
    bytesWritten: z.number().int().nonnegative(),
    bytesRead: z.number().int().nonnegative(),
  }),
  dataApiCalls: z.number().int().nonnegative(),
});
export type UsageCounts = z.infer<typeof UsageCounts>;

/** How lib-storage uploads (8 MiB parts): one PutObject, or create + one request a part + complete. */
export const S3_PART_BYTES = 8 * 1024 * 1024;
export function s3PutRequestsFor(size: number): number {
  return size <= S3_PART_BYTES ? 1 : Math.ceil(size / S3_PART_BYTES) + 2;
}

/** ListObjectsV2 returns at most 1,000 keys a page. */
export function s3ListRequestsFor(keys: number): number {
  return Math.max(1, Math.ceil(keys / 1000));
}

const scope = new AsyncLocalStorage<Usage>();

/**
 * A run's counters. Adapters add to the one in scope (`Usage.current()`), so two runs worked at once by one
 * process (`strata serve --workers 2`) each count only their own calls.
 */
export class Usage {
  readonly counts: UsageCounts = {
    s3: { putRequests: 0, listRequests: 0, getRequests: 0, headRequests: 0, bytesWritten: 0, bytesRead: 0 },
    dataApiCalls: 0,
  };

  /** Runs `fn` with this meter in scope. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return scope.run(this, fn);
  }

  static current(): Usage | undefined {
    return scope.getStore();
  }

  static s3Put(size: number): void {
    const u = scope.getStore();
    if (!u) return;
    u.counts.s3.putRequests += s3PutRequestsFor(size);
    u.counts.s3.bytesWritten += size;
  }

  static s3Get(size: number): void {
    const u = scope.getStore();
    if (!u) return;
    u.counts.s3.getRequests += 1;
    u.counts.s3.bytesRead += size;
  }

  static s3Head(): void {
    const u = scope.getStore();
    if (u) u.counts.s3.headRequests += 1;
  }

  static s3List(pages: number): void {
    const u = scope.getStore();
    if (u) u.counts.s3.listRequests += pages;
  }

  static dataApiCall(): void {
    const u = scope.getStore();
    if (u) u.counts.dataApiCalls += 1;
  }
}
