// Wired to POST /webhooks/{hook}. Validates the request shape and logs; signature checking and the hook's
// action come with the triggers issue, so until then it answers 501 and changes nothing.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { APIGatewayProxyEventSchema } from '@aws-lambda-powertools/parser/schemas';
import middy from '@middy/core';
import type { z } from 'zod';
import { logger } from '../shared/observability.ts';

export const handler = middy(async (event: z.infer<typeof APIGatewayProxyEventSchema>) => {
  logger.info('webhook received', {
    hook: event.pathParameters?.hook,
    delivery: event.headers?.['X-GitHub-Delivery'],
  });
  return { statusCode: 501, body: JSON.stringify({ error: 'webhooks are not enabled yet' }) };
})
  .use(injectLambdaContext(logger))
  .use(parser({ schema: APIGatewayProxyEventSchema }));
