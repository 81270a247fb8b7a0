// The job runner: what a Fargate task runs, one job each, and what `strata` runs in process. It reads the job
// from STRATA_JOB (the dispatcher's container override), runs it with the same code as the command line,
// heartbeats the run, logs structured JSON lines carrying the run id (steps, the outcome), emits the run's
// end as a metric (EMF on stdout, on AWS), and exits with a code that says how it went: 0 succeeded, 1 the
// run failed, 2 the job was unreadable, 75 how the run ended could not be recorded (the database gone: the
// reconciler retries the run when ECS reports the stop), 143 stopped by SIGTERM (the run is marked
// interrupted and keeps its task, so the reconciler retries it; nothing half-published stays visible,
// because a version is published only by its manifest and latest pointer).
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { deployedCatalogLocation, readDeployedCatalog } from '../runtime/aws/deployed-catalog.ts';
import { METRICS_SERVICE, recordRunEnd } from '../runtime/aws/metrics.ts';
import { ENV, METRICS_NAMESPACE } from '../runtime/aws/names.ts';
import { openAwsPlatform } from '../runtime/aws/platform.ts';
import { runTaskCommand, TaskCommand } from '../runtime/aws/rebuild-task.ts';
import { openCatalog } from '../runtime/catalog-files/bundle.ts';
import { isDatabaseUnavailable } from '../runtime/db/transient.ts';
import { executeJob, RunInterruptedError } from '../runtime/jobs/execute.ts';
import { openLocalPlatform } from '../runtime/platform/local.ts';
import { JobMessage } from '../runtime/ports/job-queue.ts';

const HEARTBEAT_MS = 30_000;
/** How long a SIGTERM waits to record the interruption before it exits anyway (ECS allows 60 s). */
const SIGTERM_GRACE_MS = 20_000;

const logger = new Logger({ serviceName: METRICS_SERVICE });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
let metricsToPublish = false;

function publishMetrics(): void {
  if (!metricsToPublish) return;
  metrics.publishStoredMetrics();
  metricsToPublish = false;
}

/** A task that runs a command instead of a job (`strata db rebuild --aws`): no run to record or heartbeat. */
async function runCommand(text: string): Promise<number> {
  let raw: unknown = null;
  try {
    raw = JSON.parse(text);
  } catch {}
  const parsed = TaskCommand.safeParse(raw);
  if (!parsed.success) {
    logger.error(`${ENV.taskCommand} is not a command`, { error: parsed.error.message });
    return 2;
  }
  logger.appendKeys({ command: parsed.data.command });
  const catalog = await openTaskCatalog();
  const platform = process.env[ENV.archiveBucket] ? await openAwsPlatform() : await openLocalPlatform();
  try {
    return await runTaskCommand(platform, catalog, parsed.data, {
      info: (message, extra) => logger.info(message, extra ?? {}),
    });
  } catch (e) {
    // A refusal (a database that lacks nothing) or a failure, said as one structured line, not a stack.
    logger.error(`${parsed.data.command} stopped`, { error: (e as Error).message });
    return 1;
  } finally {
    await platform.close().catch(() => {});
  }
}

// On AWS the image holds code only: the catalog is the one the child stack deployed, checked against the
// sha256 it recorded. Anywhere else, a catalog directory.
const openTaskCatalog = () =>
  process.env[ENV.catalogKey]
    ? readDeployedCatalog(deployedCatalogLocation())
    : openCatalog(resolve(process.env.STRATA_CATALOG ?? 'catalog'));

async function main(): Promise<number> {
  const command = process.env[ENV.taskCommand];
  if (command) return runCommand(command);
  let raw: unknown;
  try {
    raw = JSON.parse(process.env.STRATA_JOB ?? 'null');
  } catch {
    raw = null;
  }
  const parsed = JobMessage.safeParse(raw);
  if (!parsed.success) {
    logger.error('STRATA_JOB is not a job', { error: parsed.error.message });
    return 2;
  }
  const job = parsed.data;
  logger.appendKeys({
    runId: job.runId,
    kind: job.kind,
    target: job.kind === 'build' ? job.product : job.dataset,
  });
  const catalog = await openTaskCatalog();
  // On AWS the bucket names are in the environment; anywhere else, the local adapters.
  const onAws = Boolean(process.env[ENV.archiveBucket]);
  const platform = onAws
    ? await openAwsPlatform(undefined, {
        onFinish: (run) => {
          recordRunEnd(metrics, run);
          metricsToPublish = true;
        },
      })
    : await openLocalPlatform();
  const heartbeat = setInterval(() => {
    platform.runs.heartbeat(job.runId).catch(() => {});
  }, HEARTBEAT_MS);
  process.once('SIGTERM', () => {
    clearInterval(heartbeat);
    logger.warn('SIGTERM: the run is marked interrupted, to be retried');
    const grace = new Promise((r) => setTimeout(r, SIGTERM_GRACE_MS).unref());
    Promise.race([
      platform.runs.fail(
        job.runId,
        { code: 'INTERRUPTED', message: 'the task was stopped (SIGTERM) before the run finished' },
        undefined,
        'interrupted',
      ),
      grace,
    ])
      .catch((e) => logger.error('could not mark the run interrupted', { error: (e as Error).message }))
      .finally(() => {
        publishMetrics();
        process.exit(143);
      });
  });
  try {
    const run = await executeJob(
      platform,
      catalog,
      job,
      {
        onStep: (s) => logger.info(`${s.name} ${s.status}`, { step: s.name, ms: s.ms, detail: s.detail }),
      },
      {
        rebuildDependents: true,
        worker: `task ${hostname()}`,
        maxUploadBytes: process.env[ENV.maxUploadBytes] ? Number(process.env[ENV.maxUploadBytes]) : undefined,
      },
    );
    logger.info('run finished', { run: run.id, status: run.status, error: run.error });
    return run.status === 'succeeded' ? 0 : 1;
  } catch (e) {
    if (!(e instanceof RunInterruptedError)) throw e;
    logger.error('how the run ended could not be recorded; the reconciler retries it', {
      error: e.message,
      databaseUnavailable: isDatabaseUnavailable(e),
    });
    return 75;
  } finally {
    clearInterval(heartbeat);
    publishMetrics();
    await platform.close().catch(() => {});
  }
}

process.exitCode = await main();
