// Wired to ECS task state changes and a 15-minute schedule. Logs what it is told; comparing runs with
// task state comes with the triggers issue.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { logger } from '../shared/observability.ts';

export const handler = middy(
  async (event: { 'detail-type'?: string; detail?: { taskArn?: string; stopCode?: string } }) => {
    logger.info('reconcile', {
      source: event['detail-type'] ?? 'schedule',
      task: event.detail?.taskArn,
      stopCode: event.detail?.stopCode,
    });
  },
).use(injectLambdaContext(logger));
