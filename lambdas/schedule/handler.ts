// Wired by the Triggers construct, one EventBridge rule per scheduled dataset or product. Validates and
// logs; recording the run and sending the job come with the triggers issue.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import middy from '@middy/core';
import { z } from 'zod';
import { logger } from '../shared/observability.ts';

export const ScheduleEvent = z.object({ kind: z.enum(['dataset', 'product']), name: z.string().min(1) });
export type ScheduleEvent = z.infer<typeof ScheduleEvent>;

export const handler = middy(async (event: ScheduleEvent) => {
  logger.info('schedule fired', { ...event });
})
  .use(injectLambdaContext(logger))
  .use(parser({ schema: ScheduleEvent }));
