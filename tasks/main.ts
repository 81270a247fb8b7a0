// The job runner: what a Fargate task runs, one job each, and what `strata` runs in process. It reads the job
// from STRATA_JOB (the dispatcher's container override), runs it with the same code as the command line,
// heartbeats the run, and exits with a code that says how it went: 0 succeeded, 1 the run failed, 2 the job
// was unreadable, 143 stopped by SIGTERM (the run is marked interrupted, so it is retried; nothing half-
// published stays visible, because a version is published only by its manifest and latest pointer).
import { resolve } from 'node:path';
import { deployedCatalogLocation, readDeployedCatalog } from '../runtime/aws/deployed-catalog.ts';
import { ENV } from '../runtime/aws/names.ts';
import { openAwsPlatform } from '../runtime/aws/platform.ts';
import { openCatalog } from '../runtime/catalog/bundle.ts';
import { executeJob } from '../runtime/jobs/execute.ts';
import { openLocalPlatform } from '../runtime/platform.ts';
import { JobMessage } from '../runtime/runs/schema.ts';

const HEARTBEAT_MS = 30_000;

async function main(): Promise<number> {
  let raw: unknown;
  try {
    raw = JSON.parse(process.env.STRATA_JOB ?? 'null');
  } catch {
    raw = null;
  }
  const parsed = JobMessage.safeParse(raw);
  if (!parsed.success) {
    process.stderr.write(`STRATA_JOB is not a job: ${parsed.error.message}\n`);
    return 2;
  }
  const job = parsed.data;
  // On AWS the image holds code only: the catalog is the one the child stack deployed, checked against the
  // sha256 it recorded. Anywhere else, a catalog directory.
  const catalog = process.env[ENV.catalogKey]
    ? await readDeployedCatalog(deployedCatalogLocation())
    : await openCatalog(resolve(process.env.STRATA_CATALOG ?? 'catalog'));
  // On AWS the bucket names are in the environment; anywhere else, the local adapters.
  const platform = process.env[ENV.archiveBucket] ? await openAwsPlatform() : await openLocalPlatform();
  const heartbeat = setInterval(() => {
    platform.runs.heartbeat(job.runId).catch(() => {});
  }, HEARTBEAT_MS);
  process.once('SIGTERM', () => {
    clearInterval(heartbeat);
    platform.runs
      .fail(
        job.runId,
        { code: 'INTERRUPTED', message: 'the task was stopped (SIGTERM) before the run finished' },
        undefined,
        'interrupted',
      )
      .catch(() => {})
      .finally(() => process.exit(143));
  });
  try {
    const run = await executeJob(platform, catalog, job, {}, { rebuildDependents: true });
    process.stdout.write(`${JSON.stringify({ run: run.id, status: run.status, error: run.error })}\n`);
    return run.status === 'succeeded' ? 0 : 1;
  } finally {
    clearInterval(heartbeat);
    await platform.close();
  }
}

process.exitCode = await main();
