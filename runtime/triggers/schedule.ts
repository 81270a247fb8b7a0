import { type Catalog, problemsOf } from '../catalog-files/loader.ts';
import { submitOnce } from '../jobs/submit.ts';
import type { JobQueue } from '../ports/job-queue.ts';
import type { RunRegistry } from '../runs/registry.ts';

export interface ScheduleFired {
  readonly kind: 'dataset' | 'product';
  readonly name: string;
  /** When the schedule fired (EventBridge's event time): one run per firing, however often it is delivered. */
  readonly time: string;
}

export type ScheduleOutcome =
  | { readonly status: 'queued' | 'duplicate'; readonly runId: string }
  | { readonly status: 'rejected'; readonly reason: string };

/** A catalog schedule fired: record a queued build (product) or fetch (HTTP dataset) run, once per firing, and send its job. */
export async function onSchedule(
  fired: ScheduleFired,
  deps: { catalog: Catalog; runs: RunRegistry; queue: JobQueue },
): Promise<ScheduleOutcome> {
  if (fired.kind === 'dataset') {
    const dataset = deps.catalog.datasets.get(fired.name);
    if (!dataset)
      return {
        status: 'rejected',
        reason:
          problemsOf(deps.catalog, 'dataset', fired.name) ?? `dataset "${fired.name}" is not in the catalog`,
      };
    if (dataset.source.kind !== 'http')
      return {
        status: 'rejected',
        reason: `dataset "${fired.name}" has no HTTP source to fetch on a schedule`,
      };
    const { run, created } = await submitOnce(
      deps,
      { kind: 'fetch', dataset: fired.name },
      { kind: 'schedule', detail: { time: fired.time } },
      `schedule:dataset:${fired.name}@${fired.time}`,
    );
    return { status: created ? 'queued' : 'duplicate', runId: run.id };
  }
  if (!deps.catalog.products.has(fired.name))
    return {
      status: 'rejected',
      reason:
        problemsOf(deps.catalog, 'product', fired.name) ?? `product "${fired.name}" is not in the catalog`,
    };
  const { run, created } = await submitOnce(
    deps,
    { kind: 'build', product: fired.name },
    { kind: 'schedule', detail: { time: fired.time } },
    `schedule:product:${fired.name}@${fired.time}`,
  );
  return { status: created ? 'queued' : 'duplicate', runId: run.id };
}
