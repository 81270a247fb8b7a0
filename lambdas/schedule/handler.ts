import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import middy from '@middy/core';
import { z } from 'zod';
import { WAIT_MARGIN_MS } from '../../runtime/aws/wait-budget.ts';
import { onSchedule } from '../../runtime/triggers/schedule.ts';
import { deployedCatalog, jobQueue, runRegistry } from '../shared/aws.ts';
import { waitBudget } from '../shared/budget.ts';
import { logger, metrics } from '../shared/observability.ts';

/** The input each catalog schedule's EventBridge rule sends. */
export const ScheduleEvent = z.object({
  kind: z.enum(['dataset', 'product']),
  name: z.string().min(1),
  time: z.string().min(1),
});
export type ScheduleEvent = z.infer<typeof ScheduleEvent>;

const deps = { catalog: await deployedCatalog(), runs: runRegistry(), queue: jobQueue() };

export const handler = middy(async (event: ScheduleEvent) => {
  const outcome = await onSchedule(event, deps);
  if (outcome.status === 'rejected')
    logger.warn('schedule not acted on', { ...event, reason: outcome.reason });
  else {
    logger.appendKeys({ runId: outcome.runId });
    logger.info(outcome.status === 'queued' ? 'build queued' : 'duplicate firing', { ...event });
    if (outcome.status === 'queued') metrics.addMetric('RunsQueued', MetricUnit.Count, 1);
  }
  return outcome;
})
  .use(waitBudget(WAIT_MARGIN_MS.event))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .use(parser({ schema: ScheduleEvent }));
