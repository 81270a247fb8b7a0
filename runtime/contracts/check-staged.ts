import type { Position, Problem } from '../archive/receipt.ts';
import type { Dataset } from '../catalog/schema.ts';
import { sourceName } from '../load/table.ts';
import type { Database } from '../ports/database.ts';
import { cut, nounOf, problem } from './rules.ts';
import { type DiagnoseOptions, planStaged, type StagedPlan } from './staged-rules.ts';

/** What the staged rows showed: the problems, the invalid geometries (counted whatever the policy), values per column. */
export interface StagedFindings {
  readonly problems: Problem[];
  readonly geometry: { invalid: number; at: Position[] } | undefined;
  readonly nonNull: Record<string, number>;
}

/**
 * Checks the rows staged in `staging` against the dataset's contract (see staged-rules.ts): one pass counts
 * every rule, a second reads what the first rows of each hold. `skipped` are rows the reader could not make
 * (already tallied); `layer` names the layer a GDAL format was read from.
 */
export async function checkStaged(
  db: Database,
  staging: string,
  dataset: Dataset,
  skipped: readonly number[],
  options: DiagnoseOptions,
  layer?: string,
): Promise<StagedFindings> {
  const [server] = await db.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
  const plan = planStaged(dataset, options, staging, (server?.v ?? 0) >= 160000);
  // Invalid geometries report themselves in NOTICEs, one a row: not wanted here.
  await db.exec('SET client_min_messages = warning');
  try {
    const [counts = {}] = await db.query<Record<string, unknown>>(plan.count, [skipped]);
    // What the first rows of each kind hold, and why PostGIS finds a geometry invalid.
    const first = [...new Set(plan.rules.flatMap((_, i) => positionsOf(counts, i)))];
    const details = new Map<number, Record<string, string | null>>();
    if (first.length > 0 && plan.details)
      for (const row of await db.query<Record<string, string | null> & { pos: number }>(plan.details, [
        first,
      ]))
        details.set(row.pos, row);
    return findings(dataset, plan, counts, details, layer);
  } finally {
    await db.exec('RESET client_min_messages').catch(() => {});
  }
}

const positionsOf = (counts: Record<string, unknown>, i: number) =>
  (counts[`a${i}`] as number[] | null) ?? [];

/** The counts and the first rows' details as the receipt's problems and geometry facts. */
function findings(
  dataset: Dataset,
  plan: StagedPlan,
  counts: Record<string, unknown>,
  details: Map<number, Record<string, string | null>>,
  layer: string | undefined,
): StagedFindings {
  const cols = dataset.columns;
  const position = (pos: number, i: number): Position => {
    const d = details.get(pos);
    const value = d?.[`v${i}`];
    const detail = d?.[`d${i}`];
    const key = d?.key;
    return {
      ...(dataset.format === 'csv' ? { line: pos } : { feature: pos - 1 }),
      ...(layer !== undefined ? { layer } : {}),
      ...(key !== null && key !== undefined
        ? { key: { column: sourceName(cols[plan.keyAt]!), value: cut(key) } }
        : {}),
      ...(value !== null && value !== undefined ? { value: cut(value) } : {}),
      ...(detail !== null && detail !== undefined ? { detail } : {}),
    };
  };
  const noun = nounOf(dataset);
  const problems: Problem[] = [];
  plan.rules.forEach((r, i) => {
    const n = Number(counts[`n${i}`] ?? 0);
    if (i !== plan.invalidAt && n > 0)
      problems.push(
        problem(
          r.rule,
          n,
          r.what,
          positionsOf(counts, i).map((p) => position(p, i)),
          noun,
          r.column,
        ),
      );
  });
  const at = plan.invalidAt;
  return {
    problems,
    nonNull: Object.fromEntries(cols.map((c, k) => [c.name, Number(counts[`nn${k}`] ?? 0)])),
    geometry:
      at >= 0
        ? { invalid: Number(counts[`n${at}`] ?? 0), at: positionsOf(counts, at).map((p) => position(p, at)) }
        : undefined,
  };
}
