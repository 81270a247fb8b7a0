import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataApiDatabase } from '../../runtime/adapters/aws/data-api-database.ts';
import { EcsTaskLauncher } from '../../runtime/adapters/aws/ecs-task-launcher.ts';
import { SqsJobQueue } from '../../runtime/adapters/aws/sqs-job-queue.ts';
import { recordRunEnd } from '../../runtime/aws/metrics.ts';
import { ENV } from '../../runtime/aws/names.ts';
import { type Catalog, loadCatalogOrThrow } from '../../runtime/catalog/loader.ts';
import { RunRegistry } from '../../runtime/runs/registry.ts';
import { requireEnv } from './env.ts';
import { metrics } from './observability.ts';

/**
 * The run registry over the Data API: no connection to hold, and it waits for a paused cluster to resume.
 * Every run it ends is counted in the function's metrics.
 */
export function runRegistry(): RunRegistry {
  return new RunRegistry(
    new DataApiDatabase({
      resourceArn: requireEnv(ENV.clusterArn),
      secretArn: requireEnv(ENV.secretArn),
      database: requireEnv(ENV.databaseName),
    }),
    { onFinish: (run) => recordRunEnd(metrics, run) },
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

/** The catalog bundled beside the handler at synth (or STRATA_CATALOG, for tests). */
export function bundledCatalog(): Promise<Catalog> {
  return loadCatalogOrThrow(
    process.env.STRATA_CATALOG ?? join(dirname(fileURLToPath(import.meta.url)), 'catalog'),
  );
}
