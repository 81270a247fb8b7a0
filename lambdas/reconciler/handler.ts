import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { z } from 'zod';
import { METRIC } from '../../runtime/aws/metrics.ts';
import { WAIT_MARGIN_MS } from '../../runtime/aws/wait-budget.ts';
import { redriveRun, replayFailed } from '../../runtime/runs/redrive.ts';
import { RunKind } from '../../runtime/runs/schema.ts';
import { parseSince } from '../../runtime/runs/since.ts';
import { checkHeartbeats, onTaskStopped, type StoppedTask } from '../../runtime/triggers/reconcile.ts';
import { jobQueue, runRegistry, taskLauncher } from '../shared/aws.ts';
import { waitBudget } from '../shared/budget.ts';
import { logger, metrics } from '../shared/observability.ts';

const launcher = taskLauncher();
const deps = { runs: runRegistry(), queue: jobQueue(), launcher };

/**
 * What an operator sends (`aws lambda invoke`) to send runs again without SQL: named runs, or every run
 * that failed since a time or duration — the AWS side of `strata runs retry` and `strata runs replay`.
 */
export const RedriveEvent = z.strictObject({
  action: z.literal('redrive'),
  runs: z.array(z.string().min(1)).optional(),
  failedSince: z.string().min(1).optional(),
  kind: RunKind.optional(),
  target: z.string().min(1).optional(),
  dryRun: z.boolean().optional(),
  by: z.string().min(1).default('redrive event'),
});
export type RedriveEvent = z.infer<typeof RedriveEvent>;

interface ReconcileEvent {
  readonly action?: string;
  readonly 'detail-type'?: string;
  readonly detail?: StoppedTask;
}

async function redrive(event: RedriveEvent) {
  const outcomes = [];
  for (const id of event.runs ?? []) outcomes.push(await redriveRun(deps, id, event.by));
  if (event.failedSince)
    outcomes.push(
      ...(await replayFailed(
        deps,
        {
          since: parseSince(event.failedSince),
          kind: event.kind,
          target: event.target,
          dryRun: event.dryRun,
        },
        event.by,
      )),
    );
  const queued = outcomes.filter((o) => o.status === 'queued').length;
  logger.info('redrive', { queued, skipped: outcomes.length - queued, dryRun: event.dryRun ?? false });
  return { status: 'redriven', outcomes };
}

export const handler = middy(async (event: ReconcileEvent) => {
  if (event.action === 'redrive') return redrive(RedriveEvent.parse(event));
  if (event['detail-type'] !== 'ECS Task State Change' || !event.detail?.taskArn) {
    // The 15-minute schedule: hung tasks, lost stop events, dead dispatchers' claims. It leaves the
    // database alone when no task runs and no job waits.
    const outcomes = await checkHeartbeats(deps);
    for (const o of outcomes)
      if (o.status !== 'ignored') logger.warn(`scheduled check: run ${o.status}`, { ...o });
    const tasks = outcomes.filter((o) => o.status === 'retried' || o.status === 'failed').length;
    if (tasks > 0) metrics.addMetric(METRIC.tasksFailed, MetricUnit.Count, tasks);
    return { status: 'checked', outcomes };
  }
  const outcome = await onTaskStopped(event.detail, deps);
  if (outcome.status !== 'ignored') {
    logger.appendKeys({ runId: outcome.runId });
    logger.warn(`task stopped: run ${outcome.status}`, { ...outcome });
    metrics.addMetric(METRIC.tasksFailed, MetricUnit.Count, 1);
  } else logger.info('task stopped', { reason: outcome.reason });
  return outcome;
})
  .use(waitBudget(WAIT_MARGIN_MS.event))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
