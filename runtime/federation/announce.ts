import type { Catalog } from '../catalog-files/loader.ts';
import type { Platform } from '../platform/platform.ts';
import type { PublishSummary } from '../ports/federation.ts';
import { signSummary } from '../ports/federation-keys.ts';

/**
 * What a summary tells of a published version: the part of its manifest (runtime/publish/manifest.ts, which
 * calls this module after its commit) that federation reads. Federation sits below publishing and knows no
 * more of the manifest than this.
 */
export interface AnnouncedVersion {
  readonly product: string;
  readonly version: string;
  readonly runId: string;
  readonly outputs: readonly { readonly name: string; readonly rows: number }[];
  readonly checks: readonly PublishSummary['checks'][number][];
  /** The build's lock: the lines that name a product are its upstream versions. */
  readonly inputs?: readonly {
    readonly product?: string;
    readonly output?: string;
    readonly version: string;
  }[];
}

/** What became of a publish's summary, kept in the run's result: federation never fails a run. */
export type FederationRecord =
  | { readonly status: 'sent'; readonly to: string; readonly manifestSha256: string }
  | { readonly status: 'skipped'; readonly reason: string }
  | { readonly status: 'failed'; readonly error: string };

/** The summary of a published version, from its manifest as published (hashed as the bytes stand in egress). */
export function summarise(
  child: string,
  manifest: AnnouncedVersion,
  published: { key: string; sha256: string },
  catalog: Catalog,
  publishedAt: Date,
): PublishSummary {
  const rows: Record<string, number> = {};
  for (const o of manifest.outputs) rows[o.name] ??= o.rows;
  const schedule = catalog.products.get(manifest.product)?.product.schedule;
  const upstream = (manifest.inputs ?? []).flatMap((i) =>
    i.product ? [{ product: i.product, output: i.output ?? '', version: i.version }] : [],
  );
  return {
    child,
    product: manifest.product,
    version: manifest.version,
    runId: manifest.runId,
    manifest: published,
    rows,
    checks: manifest.checks.map((c) => ({
      name: c.name,
      severity: c.severity,
      passed: c.passed,
      count: c.count,
    })),
    publishedAt: publishedAt.toISOString(),
    catalogSha256: catalog.sha256 ?? null,
    ...(schedule ? { schedule } : {}),
    ...(upstream.length > 0 ? { upstream } : {}),
  };
}

/**
 * After a publish: signs the version's summary with the child's key and sends it to its core. Called once
 * the latest pointer is written, so whatever happens here the version stays published: any failure is
 * returned as a record for the run, never thrown. `sha256` is that of the manifest's bytes as written to egress
 * (objects there are written once, so they are the bytes a partner reads).
 */
export async function announcePublished(
  p: Platform,
  catalog: Catalog,
  published: { readonly key: string; readonly sha256: string; readonly manifest: AnnouncedVersion },
  publishedAt = new Date(),
): Promise<FederationRecord> {
  const federation = p.federation;
  if (!federation) return { status: 'skipped', reason: 'this deployment has no core to report to' };
  const { key: manifestKey, sha256, manifest } = published;
  try {
    const summary = summarise(federation.child, manifest, { key: manifestKey, sha256 }, catalog, publishedAt);
    await federation.send(signSummary(summary, await federation.signingKey()));
    return { status: 'sent', to: federation.destination, manifestSha256: sha256 };
  } catch (e) {
    return { status: 'failed', error: (e as Error).message ?? String(e) };
  }
}
