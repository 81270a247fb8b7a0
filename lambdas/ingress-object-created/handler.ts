// Wired by the Triggers construct. Validates and logs the event; recording the run and sending the job
// come with the triggers issue.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { S3EventNotificationEventBridgeSchema } from '@aws-lambda-powertools/parser/schemas';
import middy from '@middy/core';
import type { z } from 'zod';
import { logger } from '../shared/observability.ts';

type Event = z.infer<typeof S3EventNotificationEventBridgeSchema>;

export const handler = middy(async (event: Event) => {
  logger.info('object created in ingress', {
    bucket: event.detail.bucket.name,
    key: event.detail.object.key,
    size: event.detail.object.size,
  });
})
  .use(injectLambdaContext(logger))
  .use(parser({ schema: S3EventNotificationEventBridgeSchema }));
