// Wired behind API Gateway. Validates the request shape and logs; Hawk authentication and the routes come
// with the partner API issue, so until then it answers 501.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { APIGatewayProxyEventSchema } from '@aws-lambda-powertools/parser/schemas';
import middy from '@middy/core';
import type { z } from 'zod';
import { logger } from '../shared/observability.ts';

export const handler = middy(async (event: z.infer<typeof APIGatewayProxyEventSchema>) => {
  logger.info('partner request', { resource: event.resource, method: event.httpMethod });
  return { statusCode: 501, body: JSON.stringify({ error: 'the partner API is not enabled yet' }) };
})
  .use(injectLambdaContext(logger))
  .use(parser({ schema: APIGatewayProxyEventSchema }));
