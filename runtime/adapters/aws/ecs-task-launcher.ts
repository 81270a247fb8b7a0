import {
  ECSClient,
  ListTasksCommand,
  type ListTasksCommandOutput,
  RunTaskCommand,
  type RunTaskCommandInput,
  type RunTaskCommandOutput,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import type { JobMessage, TaskSize } from '../../ports/job-queue.ts';
import { CapacityError, type TaskLauncher } from '../../ports/task-launcher.ts';

export interface EcsLauncherConfig {
  readonly cluster: string;
  readonly taskDefinitions: Readonly<Record<TaskSize, string>>;
  readonly subnets: readonly string[];
  readonly securityGroups: readonly string[];
  readonly assignPublicIp: boolean;
  /** The container that runs the job, named in the task definition. @default 'job' */
  readonly container?: string;
}

/** ECS RunTask on Fargate: one task a job, the job passed as an environment override, tagged with its run. */
export class EcsTaskLauncher implements TaskLauncher {
  constructor(
    private readonly config: EcsLauncherConfig,
    private readonly client: ECSClient = new ECSClient({}),
  ) {}

  async launch(job: JobMessage, size: TaskSize): Promise<string> {
    let out: RunTaskCommandOutput;
    try {
      out = await this.sendRunTask(job, size);
    } catch (e) {
      // Throttling, a timeout or a 5xx from ECS passes with time; a bad request will not.
      const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      if (
        /Throttl|TooManyRequests|Timeout|TimedOut|ServerException|ServiceUnavailable/i.test(err.name ?? '') ||
        (err.$metadata?.httpStatusCode ?? 0) >= 500
      )
        throw new CapacityError(
          `ECS is not taking tasks for run ${job.runId} now: ${err.name}: ${err.message}`,
        );
      throw e;
    }
    const failure = out.failures?.[0];
    if (failure) {
      const reason = `${failure.reason ?? 'unknown'}${failure.detail ? `: ${failure.detail}` : ''}`;
      // RESOURCE:* and capacity reasons pass with time; others (a bad task definition) will not.
      if (/RESOURCE|capacity|limit/i.test(reason))
        throw new CapacityError(`no Fargate capacity for run ${job.runId}: ${reason}`);
      throw new Error(`RunTask failed for run ${job.runId}: ${reason}`);
    }
    const arn = out.tasks?.[0]?.taskArn;
    if (!arn) throw new Error(`RunTask returned no task for run ${job.runId}`);
    return arn;
  }

  private sendRunTask(job: JobMessage, size: TaskSize): Promise<RunTaskCommandOutput> {
    return this.client.send(
      new RunTaskCommand(
        fargateRunTask(this.config, {
          taskDefinition: this.config.taskDefinitions[size],
          startedBy: `strata-${job.runId}`,
          environment: { STRATA_JOB: JSON.stringify(job) },
          tags: { 'strata:run': job.runId, 'strata:kind': job.kind },
        }),
      ),
    );
  }

  async stop(task: string, reason: string): Promise<void> {
    await this.client.send(
      new StopTaskCommand({ cluster: this.config.cluster, task, reason: reason.slice(0, 255) }),
    );
  }

  /** Tasks whose desired status is RUNNING: those running and those still starting (PENDING). */
  async running(): Promise<number> {
    let n = 0;
    let token: string | undefined;
    do {
      const page: ListTasksCommandOutput = await this.client.send(
        new ListTasksCommand({ cluster: this.config.cluster, desiredStatus: 'RUNNING', nextToken: token }),
      );
      n += page.taskArns?.length ?? 0;
      token = page.nextToken;
    } while (token);
    return n;
  }
}

/** Where and how Strata's job tasks run: the cluster and the network the stack gave them. */
export type FargateNetwork = Pick<
  EcsLauncherConfig,
  'cluster' | 'subnets' | 'securityGroups' | 'assignPublicIp' | 'container'
>;

/**
 * One Fargate task of the job image on the job tasks' network, told what to do in its container's
 * environment and tagged: what the dispatcher starts for a job, and `strata db rebuild --aws` for a command.
 */
export function fargateRunTask(
  network: FargateNetwork,
  task: {
    taskDefinition: string | undefined;
    startedBy: string;
    environment: Record<string, string>;
    tags: Record<string, string>;
  },
): RunTaskCommandInput {
  return {
    cluster: network.cluster,
    taskDefinition: task.taskDefinition,
    launchType: 'FARGATE',
    count: 1,
    startedBy: task.startedBy.slice(0, 128),
    networkConfiguration: {
      awsvpcConfiguration: {
        subnets: [...network.subnets],
        securityGroups: [...network.securityGroups],
        assignPublicIp: network.assignPublicIp ? 'ENABLED' : 'DISABLED',
      },
    },
    overrides: {
      containerOverrides: [
        {
          name: network.container ?? 'job',
          environment: Object.entries(task.environment).map(([name, value]) => ({ name, value })),
        },
      ],
    },
    tags: Object.entries(task.tags).map(([key, value]) => ({ key, value })),
    enableECSManagedTags: true,
  };
}
