import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { LambdaFunctionUrlSchema } from '@aws-lambda-powertools/parser/schemas';
import middy from '@middy/core';
import type { z } from 'zod';
import { coreStatus } from '../../runtime/federation/intake.ts';
import { coreChildren, freshnessStore } from '../shared/core.ts';
import { logger } from '../shared/observability.ts';

const children = await coreChildren();
const store = freshnessStore();

/** The core's small API, on a function URL with IAM auth: `GET /status`, as `strata serve --core` answers it. */
export const handler = middy(async (event: z.infer<typeof LambdaFunctionUrlSchema>) => {
  const json = (statusCode: number, body: unknown) => ({
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (event.requestContext.http.method !== 'GET' || event.rawPath !== '/status')
    return json(404, { error: 'not found: GET /status' });
  const status = coreStatus(children, await store.read());
  logger.info('status', { children: status.children.length });
  return json(200, status);
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(parser({ schema: LambdaFunctionUrlSchema }));
