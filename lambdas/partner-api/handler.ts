import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { APIGatewayProxyEventSchema } from '@aws-lambda-powertools/parser/schemas';
import middy from '@middy/core';
import type { z } from 'zod';
import { DynamoRequestGuards } from '../../runtime/adapters/aws/dynamodb-guards.ts';
import { S3ObjectStore } from '../../runtime/adapters/aws/s3-object-store.ts';
import { SecretsPartnerDirectory } from '../../runtime/adapters/aws/secrets-partner-directory.ts';
import { ENV } from '../../runtime/aws/names.ts';
import { awsNotifications } from '../../runtime/aws/notifications.ts';
import { WAIT_MARGIN_MS } from '../../runtime/aws/wait-budget.ts';
import { createApp } from '../../runtime/http/app.ts';
import { parseCorsOrigins } from '../../runtime/http/cors.ts';
import { handleEvent, MAX_RESPONSE_BYTES } from '../../runtime/http/lambda.ts';
import { portalSignInFromEnv } from '../../runtime/portal/oidc.ts';
import { S3UrlSigner } from '../../runtime/web/urls.ts';
import { dataApiDatabase, deployedCatalog, jobQueue, runRegistry } from '../shared/aws.ts';
import { waitBudget } from '../shared/budget.ts';
import { requireEnv } from '../shared/env.ts';
import { logger } from '../shared/observability.ts';

/**
 * Run status, uploads' receipts and builds wait at most this long for a paused Aurora to resume, then
 * answer 503 with Retry-After: inside API Gateway's 29 s, with room for the rest of the request.
 */
const DATABASE_BUDGET_MS = 20_000;

const store = new S3ObjectStore({
  ingress: requireEnv(ENV.ingressBucket),
  archive: requireEnv(ENV.archiveBucket),
  egress: requireEnv(ENV.egressBucket),
});
const guards = new DynamoRequestGuards(requireEnv(ENV.requestGuardsTable));
const db = dataApiDatabase(DATABASE_BUDGET_MS);
const notifications = awsNotifications();
const app = createApp({
  catalog: await deployedCatalog(),
  store,
  runs: runRegistry(DATABASE_BUDGET_MS, db),
  // Subscriptions made here get their EventBridge connection, destination and rule at once.
  ...(notifications ? { subscriptions: { db, sender: notifications, callbacks: { local: false } } } : {}),
  queue: jobQueue(),
  partners: new SecretsPartnerDirectory(requireEnv(ENV.partnersSecretArn)),
  nonces: guards,
  rateLimiter: guards,
  urls: new S3UrlSigner(store, { download: 300, upload: 900 }),
  maxUploadBytes: Number(requireEnv(ENV.maxUploadBytes)),
  maxResponseBytes: MAX_RESPONSE_BYTES,
  publicBaseUrl: process.env[ENV.publicBaseUrl] || undefined,
  corsOrigins: parseCorsOrigins(process.env[ENV.corsOrigins], ENV.corsOrigins),
  portalSignIn: portalSignInFromEnv(process.env),
  log: (message, detail) => logger.warn(message, { ...detail }),
});

/** API Gateway (REST, proxy) → the one HTTP application. */
export const handler = middy(async (event: z.infer<typeof APIGatewayProxyEventSchema>) => {
  const result = await handleEvent(app, event);
  logger.info('partner request', {
    method: event.httpMethod,
    resource: event.resource,
    status: result.statusCode,
  });
  return result;
})
  .use(waitBudget(WAIT_MARGIN_MS.http))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(parser({ schema: APIGatewayProxyEventSchema }));
