import { DataApiDatabase } from '../../runtime/adapters/aws/data-api-database.ts';
import { EcsTaskLauncher } from '../../runtime/adapters/aws/ecs-task-launcher.ts';
import { SqsJobQueue } from '../../runtime/adapters/aws/sqs-job-queue.ts';
import { deployedCatalogLocation, readDeployedCatalog } from '../../runtime/aws/deployed-catalog.ts';
import { recordRunEnd } from '../../runtime/aws/metrics.ts';
import { ENV } from '../../runtime/aws/names.ts';
import { openCatalog } from '../../runtime/catalog-files/bundle.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { RunRegistry } from '../../runtime/runs/registry.ts';
import { invocationBudget } from './budget.ts';
import { requireEnv } from './env.ts';
import { metrics } from './observability.ts';

/**
 * The run registry over the Data API: no connection to hold, and it waits for a paused cluster to resume,
 * for up to `resumeTimeoutMs` and never past the invocation's budget (the handler's `waitBudget`
 * middleware sets it from the Lambda context), so no wait outlives the function. Every run it ends is
 * counted in the function's metrics.
 */
export function runRegistry(resumeTimeoutMs?: number, db = dataApiDatabase(resumeTimeoutMs)): RunRegistry {
  return new RunRegistry(db, { onFinish: (run) => recordRunEnd(metrics, run) });
}

/** The Data API, waiting for a paused cluster as the run registry does (above). */
export function dataApiDatabase(resumeTimeoutMs?: number): DataApiDatabase {
  return new DataApiDatabase(
    {
      resourceArn: requireEnv(ENV.clusterArn),
      secretArn: requireEnv(ENV.secretArn),
      database: requireEnv(ENV.databaseName),
    },
    undefined,
    resumeTimeoutMs,
    undefined,
    { budget: () => invocationBudget.left() },
  );
}

/** RunTask on the stack's cluster, task definitions, subnets and security group. */
export function taskLauncher(): EcsTaskLauncher {
  return new EcsTaskLauncher({
    cluster: requireEnv(ENV.ecsCluster),
    taskDefinitions: JSON.parse(requireEnv(ENV.taskDefinitions)),
    subnets: requireEnv(ENV.taskSubnets).split(','),
    securityGroups: [requireEnv(ENV.taskSecurityGroup)],
    assignPublicIp: requireEnv(ENV.taskAssignPublicIp) === 'true',
  });
}

export function jobQueue(): SqsJobQueue {
  return new SqsJobQueue(requireEnv(ENV.jobsQueueUrl));
}

/**
 * The catalog the child stack deployed, read once per cold start and checked against the sha256 the stack
 * recorded: the same object the tasks read, so functions and tasks cannot drift (STRATA_CATALOG, a directory,
 * for tests).
 */
export function deployedCatalog(): Promise<Catalog> {
  const dir = process.env.STRATA_CATALOG;
  return dir ? openCatalog(dir) : readDeployedCatalog(deployedCatalogLocation());
}
