import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { S3EventNotificationEventBridgeSchema } from '@aws-lambda-powertools/parser/schemas';
import middy from '@middy/core';
import type { z } from 'zod';
import { ENV } from '../../runtime/aws/names.ts';
import { WAIT_MARGIN_MS } from '../../runtime/aws/wait-budget.ts';
import { onObjectCreated } from '../../runtime/triggers/ingress.ts';
import { deployedCatalog, jobQueue, runRegistry } from '../shared/aws.ts';
import { waitBudget } from '../shared/budget.ts';
import { requireEnv } from '../shared/env.ts';
import { logger, metrics } from '../shared/observability.ts';

const deps = {
  catalog: await deployedCatalog(),
  runs: runRegistry(),
  queue: jobQueue(),
  maxBytes: Number(requireEnv(ENV.maxUploadBytes)),
};

export const handler = middy(async (event: z.infer<typeof S3EventNotificationEventBridgeSchema>) => {
  const { bucket, object } = event.detail;
  const outcome = await onObjectCreated(
    {
      bucket: bucket.name,
      key: object.key,
      size: object.size ?? 0,
      etag: object.etag,
      versionId: object['version-id'],
    },
    deps,
  );
  if (outcome.status === 'rejected') {
    logger.warn('upload rejected', { key: object.key, reason: outcome.reason });
    metrics.addMetric('UploadsRejected', MetricUnit.Count, 1);
  } else {
    logger.appendKeys({ runId: outcome.runId });
    logger.info(outcome.status === 'queued' ? 'ingest queued' : 'duplicate event: run already recorded', {
      ...outcome,
    });
    if (outcome.status === 'queued') metrics.addMetric('RunsQueued', MetricUnit.Count, 1);
  }
  return outcome;
})
  .use(waitBudget(WAIT_MARGIN_MS.event))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .use(parser({ schema: S3EventNotificationEventBridgeSchema }));
