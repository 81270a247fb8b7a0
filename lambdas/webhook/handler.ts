import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { APIGatewayProxyEventSchema } from '@aws-lambda-powertools/parser/schemas';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import type { z } from 'zod';
import { ENV } from '../../runtime/aws/names.ts';
import { WAIT_MARGIN_MS } from '../../runtime/aws/wait-budget.ts';
import { onWebhook, parseWebhookSecrets, type WebhookSecrets } from '../../runtime/triggers/webhook.ts';
import { deployedCatalog, jobQueue, runRegistry } from '../shared/aws.ts';
import { waitBudget } from '../shared/budget.ts';
import { requireEnv } from '../shared/env.ts';
import { logger, metrics } from '../shared/observability.ts';

const secretsClient = new SecretsManagerClient({});
const secretArn = requireEnv(ENV.webhookSecretArn);
const base = { catalog: await deployedCatalog(), runs: runRegistry(), queue: jobQueue() };
let cached: { at: number; secrets: WebhookSecrets } | undefined;

/**
 * Hook secrets, read at most every five minutes, so a rotated secret takes effect without a deploy. A
 * document that is not valid says what is wrong (WebhookSecretsError, logged) and is not cached.
 */
async function secrets(): Promise<WebhookSecrets> {
  if (cached && Date.now() - cached.at < 300_000) return cached.secrets;
  const out = await secretsClient.send(new GetSecretValueCommand({ SecretId: secretArn }));
  cached = { at: Date.now(), secrets: parseWebhookSecrets(out.SecretString, `the secret ${secretArn}`) };
  return cached.secrets;
}

const header = (headers: Record<string, string | undefined> | null | undefined, name: string) =>
  Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1];

const reply = (statusCode: number, body: unknown, headers: Record<string, string> = {}) => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

export const handler = middy(async (event: z.infer<typeof APIGatewayProxyEventSchema>) => {
  // The signature covers the bytes as sent: decode API Gateway's base64 before anything reads them.
  const body = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  let hookSecrets: WebhookSecrets;
  try {
    hookSecrets = await secrets();
  } catch (e) {
    logger.error('webhook secrets cannot be used', { error: (e as Error).message });
    return reply(503, { error: 'the webhook is not available now' }, { 'retry-after': '60' });
  }
  const res = await onWebhook(
    {
      hook: event.pathParameters?.hook ?? '',
      body,
      signature: header(event.headers, 'x-hub-signature-256'),
      deliveryId: header(event.headers, 'x-github-delivery'),
    },
    { ...base, secrets: hookSecrets, log: (m, d) => logger.error(m, d ?? {}) },
  );
  logger.info('webhook', { hook: event.pathParameters?.hook, statusCode: res.statusCode, ...res.body });
  if (res.statusCode >= 400 && res.statusCode < 500)
    metrics.addMetric('WebhooksRejected', MetricUnit.Count, 1);
  if (res.statusCode === 202) metrics.addMetric('RunsQueued', MetricUnit.Count, 1);
  return reply(res.statusCode, res.body, { ...res.headers });
})
  .use(waitBudget(WAIT_MARGIN_MS.http))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .use(parser({ schema: APIGatewayProxyEventSchema }));
