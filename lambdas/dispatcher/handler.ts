// Wired to the jobs queue. Validates each job and logs it; starting Fargate tasks comes with the triggers
// issue, so until then every message is reported failed and stays on the queue (then the DLQ, which alarms).
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { SqsSchema } from '@aws-lambda-powertools/parser/schemas';
import middy from '@middy/core';
import type { z } from 'zod';
import { logger } from '../shared/observability.ts';

export const handler = middy(async (event: z.infer<typeof SqsSchema>) => {
  for (const r of event.Records) logger.info('job received', { messageId: r.messageId });
  return { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) };
})
  .use(injectLambdaContext(logger))
  .use(parser({ schema: SqsSchema }));
