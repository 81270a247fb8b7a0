import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { onTaskStopped, type StoppedTask } from '../../runtime/triggers/reconcile.ts';
import { jobQueue, runRegistry } from '../shared/aws.ts';
import { logger, metrics } from '../shared/observability.ts';

const deps = { runs: runRegistry(), queue: jobQueue() };

interface ReconcileEvent {
  readonly 'detail-type'?: string;
  readonly detail?: StoppedTask;
}

export const handler = middy(async (event: ReconcileEvent) => {
  if (event['detail-type'] !== 'ECS Task State Change' || !event.detail?.taskArn) {
    // The 15-minute schedule: checking heartbeats of running tasks comes with the next part of the triggers work.
    logger.info('scheduled reconcile: nothing to check yet');
    return { status: 'ignored' };
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
