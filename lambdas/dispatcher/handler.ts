import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { SqsSchema } from '@aws-lambda-powertools/parser/schemas';
import middy from '@middy/core';
import type { z } from 'zod';
import { ENV } from '../../runtime/aws/names.ts';
import { WAIT_MARGIN_MS } from '../../runtime/aws/wait-budget.ts';
import { dispatch } from '../../runtime/triggers/dispatch.ts';
import { jobQueue, runRegistry, taskLauncher } from '../shared/aws.ts';
import { waitBudget } from '../shared/budget.ts';
import { requireEnv } from '../shared/env.ts';
import { logger, metrics } from '../shared/observability.ts';

const launcher = taskLauncher();
const deps = {
  runs: runRegistry(),
  launcher,
  queue: jobQueue(),
  maxConcurrent: Number(requireEnv(ENV.maxConcurrentTasks)),
  log: {
    info: (message: string, detail?: Record<string, unknown>) => logger.info(message, detail ?? {}),
    warn: (message: string, detail?: Record<string, unknown>) => logger.warn(message, detail ?? {}),
  },
};

export const handler = middy(async (event: z.infer<typeof SqsSchema>) => {
  const { retry, started } = await dispatch(
    event.Records.map((r) => ({ id: r.messageId, body: r.body })),
    deps,
  );
  metrics.addMetric('TasksStarted', MetricUnit.Count, started);
  return { batchItemFailures: retry.map((id) => ({ itemIdentifier: id })) };
})
  .use(waitBudget(WAIT_MARGIN_MS.event))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .use(parser({ schema: SqsSchema }));
