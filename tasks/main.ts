// The job runner: what a Fargate task runs, one job each. It reads the job from STRATA_JOB (the
// dispatcher's container override), runs it with the same code as the command line, and exits with a code
// that says how it went: 0 succeeded, 1 the run failed, 2 the job itself was unreadable.
//
// Today it runs against the local adapters (DATABASE_URL or the embedded database, folder buckets); the S3
// and Aurora adapters it will use on AWS come with the triggers issue.
import { resolve } from 'node:path';
import { loadCatalogOrThrow } from '../runtime/catalog/loader.ts';
import { executeJob } from '../runtime/jobs/execute.ts';
import { openLocalPlatform } from '../runtime/platform.ts';
import { JobMessage } from '../runtime/runs/schema.ts';

async function main(): Promise<number> {
  const parsed = JobMessage.safeParse(JSON.parse(process.env.STRATA_JOB ?? 'null'));
  if (!parsed.success) {
    process.stderr.write(`STRATA_JOB is not a job: ${parsed.error.message}\n`);
    return 2;
  }
  const catalog = await loadCatalogOrThrow(resolve(process.env.STRATA_CATALOG ?? 'catalog'));
  const platform = await openLocalPlatform();
  try {
    const run = await executeJob(platform, catalog, parsed.data);
    process.stdout.write(`${JSON.stringify({ run: run.id, status: run.status, error: run.error })}\n`);
    return run.status === 'succeeded' ? 0 : 1;
  } finally {
    await platform.close();
  }
}

process.exitCode = await main();
