import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { checkHeartbeats, onTaskStopped, type StoppedTask } from '../../runtime/triggers/reconcile.ts';
import { jobQueue, runRegistry, taskLauncher } from '../shared/aws.ts';
import { logger, metrics } from '../shared/observability.ts';

const launcher = taskLauncher();
const deps = { runs: runRegistry(), queue: jobQueue(), launcher };

interface ReconcileEvent {
  readonly 'detail-type'?: string;
  readonly detail?: StoppedTask;
}

export const handler = middy(async (event: ReconcileEvent) => {
  if (event['detail-type'] !== 'ECS Task State Change' || !event.detail?.taskArn) {
    // The 15-minute schedule: hung tasks (stale heartbeats). It leaves the database alone when no task runs.
    const outcomes = await checkHeartbeats(deps);
    for (const o of outcomes) if (o.status !== 'ignored') logger.warn(`hung task: run ${o.status}`, { ...o });
    if (outcomes.length > 0) metrics.addMetric('TasksFailed', MetricUnit.Count, outcomes.length);
    return { status: 'checked', outcomes };
  }
  const outcome = await onTaskStopped(event.detail, deps);
  if (outcome.status !== 'ignored') {
    logger.appendKeys({ runId: outcome.runId });
    logger.warn(`task stopped: run ${outcome.status}`, { ...outcome });
    metrics.addMetric('TasksFailed', MetricUnit.Count, 1);
    if (outcome.status === 'failed') metrics.addMetric('RunsFailed', MetricUnit.Count, 1);
  } else logger.info('task stopped', { reason: outcome.reason });
  return outcome;
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
