import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Run } from '../runs/schema.ts';
import { METRICS_SERVICE } from './names.ts';

/**
 * The metric names, in namespace `Strata` (METRICS_NAMESPACE). Each is emitted with the dimension Powertools
 * adds (`service`), which the alarms watch; the run metrics also with `service` and `kind`, to chart by kind.
 */
export const METRIC = {
  runsQueued: 'RunsQueued',
  runsSucceeded: 'RunsSucceeded',
  runsFailed: 'RunsFailed',
  runsInterrupted: 'RunsInterrupted',
  tasksStarted: 'TasksStarted',
  tasksFailed: 'TasksFailed',
  productPublished: 'ProductPublished',
  jobsUnreadable: 'JobsUnreadable',
} as const;

export { METRICS_SERVICE };

/** One count for a run that reached succeeded, failed or interrupted, from wherever it got there. */
export function recordRunEnd(metrics: Metrics, run: Run): void {
  const name =
    run.status === 'succeeded'
      ? METRIC.runsSucceeded
      : run.status === 'failed'
        ? METRIC.runsFailed
        : run.status === 'interrupted'
          ? METRIC.runsInterrupted
          : undefined;
  if (!name) return;
  metrics.addMetric(name, MetricUnit.Count, 1);
  const byKind = metrics.singleMetric();
  byKind.addDimension('kind', run.kind);
  byKind.addMetric(name, MetricUnit.Count, 1);
  if (run.kind === 'build' && run.status === 'succeeded' && run.result?.upToDate !== true) {
    metrics.addMetric(METRIC.productPublished, MetricUnit.Count, 1);
    // Per product too: each scheduled product's stale alarm watches its own (productMetricDimensions).
    const byProduct = metrics.singleMetric();
    byProduct.addDimension('product', run.target);
    byProduct.addMetric(METRIC.productPublished, MetricUnit.Count, 1);
  }
}
