import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas';
import middy from '@middy/core';
import type { z } from 'zod';
import { receiveSummary } from '../../runtime/federation/intake.ts';
import { coreChildren, freshnessStore } from '../shared/core.ts';
import { logger, metrics } from '../shared/observability.ts';

const deps = { children: await coreChildren(), store: freshnessStore() };

/**
 * A child's `ProductPublished` event, forwarded to the core's bus. EventBridge sets `account` to the account
 * the event came from, so a summary must both verify with its child's key and come from its child's account.
 */
export const handler = middy(async (event: z.infer<typeof EventBridgeSchema>) => {
  const outcome = await receiveSummary(event.detail, { ...deps, sourceAccount: event.account });
  if (outcome.status === 'refused') {
    logger.warn('summary refused', { reason: outcome.reason, account: event.account, eventId: event.id });
    metrics.addMetric('SummariesRefused', MetricUnit.Count, 1);
  } else {
    logger.info('summary taken', { ...outcome, account: event.account });
    metrics.addMetric('SummariesAccepted', MetricUnit.Count, 1);
  }
  return outcome;
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .use(parser({ schema: EventBridgeSchema }));
