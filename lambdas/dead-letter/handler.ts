import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { SqsSchema } from '@aws-lambda-powertools/parser/schemas';
import middy from '@middy/core';
import type { z } from 'zod';
import { METRIC } from '../../runtime/aws/metrics.ts';
import { WAIT_MARGIN_MS } from '../../runtime/aws/wait-budget.ts';
import { onDeadLetters } from '../../runtime/triggers/dead-letter.ts';
import { runRegistry } from '../shared/aws.ts';
import { waitBudget } from '../shared/budget.ts';
import { logger, metrics } from '../shared/observability.ts';

const deps = {
  runs: runRegistry(),
  log: {
    info: (message: string, detail?: Record<string, unknown>) => logger.info(message, detail ?? {}),
    warn: (message: string, detail?: Record<string, unknown>) => logger.warn(message, detail ?? {}),
  },
};

/** The dead-letter queue's consumer: each run whose job landed there is failed with the reason (RunsFailed). */
export const handler = middy(async (event: z.infer<typeof SqsSchema>) => {
  const out = await onDeadLetters(
    event.Records.map((r) => ({ id: r.messageId, body: r.body })),
    deps,
  );
  if (out.unreadable.length > 0)
    metrics.addMetric(METRIC.jobsUnreadable, MetricUnit.Count, out.unreadable.length);
  return out;
})
  .use(waitBudget(WAIT_MARGIN_MS.event))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .use(parser({ schema: SqsSchema }));
