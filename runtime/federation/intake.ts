import { z } from 'zod';
import { schedulePeriodSeconds } from '../catalog/schedule-period.ts';
import { PublishSummary, SignedSummary } from '../ports/federation.ts';
import { verifySummary } from '../ports/federation-keys.ts';
import type { FreshnessEntry, FreshnessStore, RefusedEntry } from '../ports/freshness-store.ts';

/** A child as the core's config knows it: its name, its AWS account, and the public key its summaries verify with. */
export const CoreChild = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be lowercase letters, digits and -'),
  account: z
    .string()
    .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
    .optional(),
  /** base64 of the SPKI DER of its Ed25519 key (`strata core pubkey`); until it is set, its summaries are refused. */
  publicKey: z.string().min(1).optional(),
});
export type CoreChild = z.infer<typeof CoreChild>;

export type IntakeOutcome =
  | { readonly status: 'accepted'; readonly child: string; readonly product: string; readonly kept: boolean }
  | { readonly status: 'refused'; readonly reason: string };

/**
 * A summary arrives at the core. It is taken only if it names a configured child, verifies with that child's
 * public key, is a well-formed summary, and (where the transport says which account sent it) came from that
 * child's account. Anything else is refused, recorded with its reason, and changes no freshness.
 */
export async function receiveSummary(
  raw: unknown,
  deps: {
    readonly children: readonly CoreChild[];
    readonly store: FreshnessStore;
    readonly now?: Date;
    readonly sourceAccount?: string;
  },
): Promise<IntakeOutcome> {
  const receivedAt = (deps.now ?? new Date()).toISOString();
  const envelope = SignedSummary.safeParse(raw);
  const claimed = envelope.success ? envelope.data.summary : undefined;
  const refuse = async (reason: string): Promise<IntakeOutcome> => {
    const entry: RefusedEntry = {
      child: typeof claimed?.child === 'string' ? claimed.child : null,
      receivedAt,
      reason,
      ...(typeof claimed?.product === 'string' ? { product: claimed.product } : {}),
      ...(typeof claimed?.version === 'string' ? { version: claimed.version } : {}),
      ...(deps.sourceAccount ? { sourceAccount: deps.sourceAccount } : {}),
    };
    await deps.store.refuse(entry);
    return { status: 'refused', reason };
  };
  if (!envelope.success) return refuse('not a signed summary (expected { summary, signature })');
  const name = claimed?.child;
  const child = deps.children.find((c) => c.name === name);
  if (!child) return refuse(`unknown child ${JSON.stringify(name ?? null)}`);
  if (!child.publicKey) return refuse(`no public key is configured for child "${child.name}"`);
  if (!verifySummary(envelope.data, child.publicKey))
    return refuse(`signature does not verify with child "${child.name}"'s public key`);
  if (deps.sourceAccount && child.account && deps.sourceAccount !== child.account)
    return refuse(
      `sent from account ${deps.sourceAccount}, but child "${child.name}" is account ${child.account}`,
    );
  const summary = PublishSummary.safeParse(envelope.data.summary);
  if (!summary.success)
    return refuse(
      `signed, but not a valid summary: ${summary.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  const kept = await deps.store.record({ summary: summary.data, receivedAt });
  return { status: 'accepted', child: child.name, product: summary.data.product, kept };
}

export interface ProductFreshness {
  readonly product: string;
  readonly version: string;
  readonly publishedAt: string;
  readonly ageSeconds: number;
  readonly schedule: string | null;
  /**
   * Its schedule's longest gap plus the grace has passed with no newer version, or it reads a product of the
   * same child that is overdue (a product is never fresher than what it reads).
   */
  readonly overdue: boolean;
  /** The products it reads (its latest version's `upstream`) that are overdue, when that makes it so. */
  readonly lateUpstream: readonly string[];
  /** The products and outputs its latest version read, with their versions (product-to-product lineage). */
  readonly upstream: readonly { product: string; output: string; version: string }[];
  readonly rows: Readonly<Record<string, number>>;
  readonly failedChecks: readonly { name: string; severity: string; count: number }[];
  readonly manifestSha256: string;
  readonly catalogSha256: string | null;
  readonly receivedAt: string;
}

export interface ChildStatus {
  readonly name: string;
  readonly account: string | null;
  readonly keyConfigured: boolean;
  readonly products: readonly ProductFreshness[];
  readonly refused: readonly RefusedEntry[];
}

export interface CoreStatus {
  readonly generatedAt: string;
  readonly children: readonly ChildStatus[];
  /** Refusals that named no configured child. */
  readonly refusedUnknown: readonly RefusedEntry[];
}

/** How long after its schedule's longest gap a product counts as late. @default one hour */
export const DEFAULT_GRACE_SECONDS = 3600;

/** Whether a product on `schedule` whose latest version is `ageSeconds` old is late (the console says so too). */
export function overdue(schedule: string | undefined, ageSeconds: number, graceSeconds: number): boolean {
  if (!schedule) return false;
  try {
    return ageSeconds > schedulePeriodSeconds(schedule) + graceSeconds;
  } catch {
    return false;
  }
}

/**
 * A child's products with each one that reads an overdue product (at any depth, within the child) overdue
 * too, naming what it reads that is. A child's catalog refuses loops, and the passes stop once nothing changes.
 */
function boundByUpstream(products: ProductFreshness[]): ProductFreshness[] {
  for (let changed = true; changed; ) {
    changed = false;
    const late = new Set(products.filter((d) => d.overdue).map((d) => d.product));
    products.forEach((d, k) => {
      const reads = [...new Set(d.upstream.map((u) => u.product))].filter((u) => late.has(u));
      if (reads.length > d.lateUpstream.length) {
        products[k] = { ...d, overdue: true, lateUpstream: reads };
        changed = true;
      }
    });
  }
  return products;
}

/** What each child publishes, how fresh it is, and what failed: checks that did not pass, summaries refused. */
export function coreStatus(
  children: readonly CoreChild[],
  snapshot: { latest: readonly FreshnessEntry[]; refused: readonly RefusedEntry[] },
  now = new Date(),
  graceSeconds = DEFAULT_GRACE_SECONDS,
  recentRefusals = 20,
): CoreStatus {
  const byTime = (a: RefusedEntry, b: RefusedEntry) => (a.receivedAt < b.receivedAt ? 1 : -1);
  const known = new Set(children.map((c) => c.name));
  return {
    generatedAt: now.toISOString(),
    children: children.map((c) => ({
      name: c.name,
      account: c.account ?? null,
      keyConfigured: Boolean(c.publicKey),
      products: boundByUpstream(
        snapshot.latest
          .filter((e) => e.summary.child === c.name)
          .sort((a, b) => (a.summary.product < b.summary.product ? -1 : 1))
          .map(({ summary: s, receivedAt }) => {
            const ageSeconds = Math.max(0, Math.round((now.getTime() - Date.parse(s.publishedAt)) / 1000));
            return {
              product: s.product,
              version: s.version,
              publishedAt: s.publishedAt,
              ageSeconds,
              schedule: s.schedule ?? null,
              overdue: overdue(s.schedule, ageSeconds, graceSeconds),
              lateUpstream: [],
              upstream: s.upstream ?? [],
              rows: s.rows,
              failedChecks: s.checks
                .filter((k) => !k.passed)
                .map((k) => ({ name: k.name, severity: k.severity, count: k.count })),
              manifestSha256: s.manifest.sha256,
              catalogSha256: s.catalogSha256,
              receivedAt,
            };
          }),
      ),
      refused: snapshot.refused
        .filter((r) => r.child === c.name)
        .sort(byTime)
        .slice(0, recentRefusals),
    })),
    refusedUnknown: snapshot.refused
      .filter((r) => r.child === null || !known.has(r.child))
      .sort(byTime)
      .slice(0, recentRefusals),
  };
}
