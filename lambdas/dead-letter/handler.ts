import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { SqsSchema } from '@aws-lambda-powertools/parser/schemas';
import middy from '@middy/core';
import type { z } from 'zod';
import { METRIC } from '../../runtime/aws/metrics.ts';
import { ENV } from '../../runtime/aws/names.ts';
import { WAIT_MARGIN_MS } from '../../runtime/aws/wait-budget.ts';
import { onDeadLetters } from '../../runtime/triggers/dead-letter.ts';
import { onNotificationDeadLetters } from '../../runtime/triggers/notification-dead-letter.ts';
import { dataApiDatabase, runRegistry } from '../shared/aws.ts';
import { waitBudget } from '../shared/budget.ts';
import { logger, metrics } from '../shared/observability.ts';

const db = dataApiDatabase();
/** The publish notifications' dead-letter queue, which this function consumes too. */
const notificationsDlq = process.env[ENV.notificationsDlqArn];
const deps = {
  db,
  runs: runRegistry(undefined, db),
  log: {
    info: (message: string, detail?: Record<string, unknown>) => logger.info(message, detail ?? {}),
    warn: (message: string, detail?: Record<string, unknown>) => logger.warn(message, detail ?? {}),
  },
};

const attribute = (r: z.infer<typeof SqsSchema>['Records'][number], name: string) =>
  r.messageAttributes[name]?.stringValue ?? undefined;

/**
 * The dead-letter queues' consumer: each run whose job landed in the jobs' is failed with the reason
 * (RunsFailed); each publish notification EventBridge gave up on counts towards disabling its subscription.
 */
export const handler = middy(async (event: z.infer<typeof SqsSchema>) => {
  const notifications = event.Records.filter(
    (r) => notificationsDlq && r.eventSourceARN === notificationsDlq,
  );
  const notified = await onNotificationDeadLetters(
    notifications.map((r) => ({
      id: r.messageId,
      body: r.body,
      errorCode: attribute(r, 'ERROR_CODE'),
      errorMessage: attribute(r, 'ERROR_MESSAGE'),
    })),
    deps,
  );
  const jobs = event.Records.filter((r) => !notifications.includes(r));
  const out = await onDeadLetters(
    jobs.map((r) => ({ id: r.messageId, body: r.body })),
    deps,
  );
  if (notified.length > 0) logger.info('undeliverable notifications counted', { notifications: notified });
  if (out.unreadable.length > 0)
    metrics.addMetric(METRIC.jobsUnreadable, MetricUnit.Count, out.unreadable.length);
  return { ...out, notifications: notified };
})
  .use(waitBudget(WAIT_MARGIN_MS.event))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .use(parser({ schema: SqsSchema }));
