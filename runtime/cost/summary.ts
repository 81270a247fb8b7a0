import { CostLedger } from './ledger.ts';

/** A target's runs since a moment, summed. */
export interface CostLine {
  readonly kind: 'dataset' | 'product';
  readonly name: string;
  readonly runs: number;
  readonly taskSeconds: number;
  readonly vcpuSeconds: number;
  readonly gbSeconds: number;
  readonly acuSeconds: number;
  readonly wakeUps: number;
  readonly s3Requests: number;
  readonly s3BytesWritten: number;
  readonly dataApiCalls: number;
  readonly usd: number;
}

export interface CostSummary {
  readonly since: string;
  readonly prices: { readonly date: string; readonly region: string } | null;
  readonly lines: readonly CostLine[];
  readonly total: { readonly runs: number; readonly usd: number };
  /** Runs in the window with no ledger (still running, or from before ledgers were kept). */
  readonly runsWithoutLedger: number;
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;

/** A finished run's target and the ledger recorded on it, as stored (checked here, not trusted). */
export interface RunCost {
  readonly kind: string;
  readonly target: string;
  readonly cost: unknown;
}

/** Where the ledgers are kept: the run registry. */
export interface CostSource {
  /** Finished runs created since `since`, oldest first. */
  costsSince(since: Date): Promise<readonly RunCost[]>;
}

/** The cost ledgers of runs created since `since`, summed by dataset (ingest, fetch) and product (build). */
export async function costSince(source: CostSource, since: Date): Promise<CostSummary> {
  const rows = await source.costsSince(since);
  const lines = new Map<string, CostLine>();
  let missing = 0;
  let prices: CostSummary['prices'] = null;
  for (const r of rows) {
    const raw = typeof r.cost === 'string' ? JSON.parse(r.cost) : r.cost;
    const parsed = CostLedger.safeParse(raw);
    if (!parsed.success) {
      missing++;
      continue;
    }
    const c = parsed.data;
    prices = c.prices;
    const kind = r.kind === 'build' ? 'product' : 'dataset';
    const key = `${kind}:${r.target}`;
    const before = lines.get(key);
    lines.set(key, {
      kind,
      name: r.target,
      runs: (before?.runs ?? 0) + 1,
      taskSeconds: round((before?.taskSeconds ?? 0) + c.task.billedSeconds),
      vcpuSeconds: round((before?.vcpuSeconds ?? 0) + c.task.vcpuSeconds),
      gbSeconds: round((before?.gbSeconds ?? 0) + c.task.gbSeconds),
      acuSeconds: round((before?.acuSeconds ?? 0) + c.aurora.acuSeconds),
      wakeUps: (before?.wakeUps ?? 0) + (c.aurora.wokeCluster ? 1 : 0),
      s3Requests:
        (before?.s3Requests ?? 0) +
        c.s3.putRequests +
        c.s3.listRequests +
        c.s3.getRequests +
        c.s3.headRequests,
      s3BytesWritten: (before?.s3BytesWritten ?? 0) + c.s3.bytesWritten,
      dataApiCalls: (before?.dataApiCalls ?? 0) + c.dataApi.calls,
      usd: round((before?.usd ?? 0) + c.usd.total),
    });
  }
  const sorted = [...lines.values()].sort((a, b) =>
    a.kind === b.kind ? (a.name < b.name ? -1 : 1) : a.kind < b.kind ? -1 : 1,
  );
  return {
    since: since.toISOString(),
    prices,
    lines: sorted,
    total: {
      runs: sorted.reduce((n, l) => n + l.runs, 0),
      usd: round(sorted.reduce((n, l) => n + l.usd, 0)),
    },
    runsWithoutLedger: missing,
  };
}
