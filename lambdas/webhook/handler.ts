import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { APIGatewayProxyEventSchema } from '@aws-lambda-powertools/parser/schemas';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import type { z } from 'zod';
import { ENV } from '../../runtime/aws/names.ts';
import { onWebhook } from '../../runtime/triggers/webhook.ts';
import { deployedCatalog, jobQueue, runRegistry } from '../shared/aws.ts';
import { requireEnv } from '../shared/env.ts';
import { logger, metrics } from '../shared/observability.ts';

const secretsClient = new SecretsManagerClient({});
const secretArn = requireEnv(ENV.webhookSecretArn);
const base = { catalog: await deployedCatalog(), runs: runRegistry(), queue: jobQueue() };
let cached: { at: number; secrets: Record<string, string> } | undefined;

/** Hook secrets, read at most every five minutes, so a rotated secret takes effect without a deploy. */
async function secrets(): Promise<Record<string, string>> {
  if (cached && Date.now() - cached.at < 300_000) return cached.secrets;
  const out = await secretsClient.send(new GetSecretValueCommand({ SecretId: secretArn }));
  cached = { at: Date.now(), secrets: JSON.parse(out.SecretString ?? '{}') };
  return cached.secrets;
}

const header = (headers: Record<string, string | undefined> | null | undefined, name: string) =>
  Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1];

export const handler = middy(async (event: z.infer<typeof APIGatewayProxyEventSchema>) => {
  // The signature covers the bytes as sent: decode API Gateway's base64 before anything reads them.
  const body = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  const res = await onWebhook(
    {
      hook: event.pathParameters?.hook ?? '',
      body,
      signature: header(event.headers, 'x-hub-signature-256'),
      deliveryId: header(event.headers, 'x-github-delivery'),
    },
    { ...base, secrets: await secrets() },
  );
  logger.info('webhook', { hook: event.pathParameters?.hook, statusCode: res.statusCode, ...res.body });
  if (res.statusCode === 401) metrics.addMetric('WebhooksRejected', MetricUnit.Count, 1);
  return {
    statusCode: res.statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(res.body),
  };
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .use(parser({ schema: APIGatewayProxyEventSchema }));
