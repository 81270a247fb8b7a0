import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DescribeTasksCommand, type ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { z } from 'zod';
import { fargateRunTask } from '../adapters/aws/ecs-task-launcher.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import type { Platform } from '../platform/platform.ts';
import { rebuildDatabase } from '../rebuild/rebuild.ts';
import { ENV } from './names.ts';
import { readStackOutputs, STACK_OUTPUT } from './stack-outputs.ts';

/**
 * `strata db rebuild` on AWS: the same rebuild as on a laptop, run as a Fargate task of the job image, since
 * it reads every archived version and loads tables (a Lambda has neither the time nor the disk). The task is
 * told what to do in STRATA_COMMAND instead of STRATA_JOB: a rebuild is not a job, because the runs table a
 * job is recorded in is what is being made again.
 */
export const TaskCommand = z.discriminatedUnion('command', [
  z.object({
    command: z.literal('db-rebuild'),
    all: z.boolean().optional(),
    dryRun: z.boolean().optional(),
  }),
]);
export type TaskCommand = z.infer<typeof TaskCommand>;

/** The outputs of a child stack a task launched by hand needs (the dispatcher has them in its environment). */
const NEEDED = [
  STACK_OUTPUT.taskClusterArn,
  STACK_OUTPUT.taskLogGroup,
  STACK_OUTPUT.largeTaskDefinition,
  STACK_OUTPUT.taskSubnets,
  STACK_OUTPUT.taskSecurityGroup,
  STACK_OUTPUT.taskPublicIp,
] as const;

export interface LaunchedTask {
  readonly cluster: string;
  readonly taskArn: string;
  readonly logGroup: string;
}

/** Starts the rebuild as one task of the large size, on the network the stack gave its job tasks. */
export async function launchRebuildTask(
  clients: { cfn: CloudFormationClient; ecs: ECSClient },
  stack: string,
  command: TaskCommand,
): Promise<LaunchedTask> {
  const o = await readStackOutputs(clients.cfn, stack, NEEDED);
  const cluster = o[STACK_OUTPUT.taskClusterArn]!;
  const out = await clients.ecs.send(
    new RunTaskCommand(
      fargateRunTask(
        {
          cluster,
          subnets: o[STACK_OUTPUT.taskSubnets]!.split(',').filter(Boolean),
          securityGroups: [o[STACK_OUTPUT.taskSecurityGroup]!],
          assignPublicIp: o[STACK_OUTPUT.taskPublicIp] === 'true',
        },
        {
          taskDefinition: o[STACK_OUTPUT.largeTaskDefinition],
          startedBy: `strata-${command.command}`,
          environment: { [ENV.taskCommand]: JSON.stringify(command) },
          tags: { 'strata:kind': command.command },
        },
      ),
    ),
  );
  const failure = out.failures?.[0];
  if (failure)
    throw new Error(`RunTask failed: ${failure.reason ?? 'unknown'} ${failure.detail ?? ''}`.trim());
  const taskArn = out.tasks?.[0]?.taskArn;
  if (!taskArn) throw new Error('RunTask returned no task');
  return { cluster, taskArn, logGroup: o[STACK_OUTPUT.taskLogGroup]! };
}

export interface TaskEnd {
  /** The container's exit code: 0 all restored and loaded, 1 something could not be loaded (see the log). */
  readonly exitCode?: number;
  readonly stoppedReason?: string;
}

/** Waits for a task to stop, asking ECS every `everyMs`; `sleep` is given so tests need not wait. */
export async function waitForTask(
  ecs: ECSClient,
  task: Pick<LaunchedTask, 'cluster' | 'taskArn'>,
  options: { everyMs: number; timeoutMs: number; sleep: (ms: number) => Promise<void>; now: () => number },
  onStatus?: (status: string) => void,
): Promise<TaskEnd> {
  const until = options.now() + options.timeoutMs;
  let last = '';
  for (;;) {
    const out = await ecs.send(new DescribeTasksCommand({ cluster: task.cluster, tasks: [task.taskArn] }));
    const t = out.tasks?.[0];
    if (!t) throw new Error(`ECS does not know task ${task.taskArn}`);
    const status = t.lastStatus ?? 'UNKNOWN';
    if (status !== last) onStatus?.(status);
    last = status;
    if (status === 'STOPPED') {
      const c = t.containers?.find((x) => x.name === 'job') ?? t.containers?.[0];
      return { exitCode: c?.exitCode, stoppedReason: t.stoppedReason ?? c?.reason };
    }
    if (options.now() >= until)
      throw new Error(`task ${task.taskArn} is still ${status} after ${options.timeoutMs / 60_000} min`);
    await options.sleep(options.everyMs);
  }
}

/**
 * What the task does with a command: the rebuild, its steps logged as they happen and its report as one
 * structured line (the operator reads it in the task's log group). Exit code 0 when everything the buckets
 * hold was restored and loaded, 1 when a version could not be loaded (named in the report).
 */
export async function runTaskCommand(
  platform: Platform,
  catalog: Catalog,
  command: TaskCommand,
  log: { info(message: string, extra?: Record<string, unknown>): void },
): Promise<number> {
  const report = await rebuildDatabase(platform, catalog, {
    all: command.all,
    dryRun: command.dryRun,
    onProgress: (m) => log.info(m, { step: 'rebuild' }),
  });
  log.info('rebuild finished', { report });
  return report.notLoaded.length === 0 ? 0 : 1;
}

export interface RebuildOnAwsOptions {
  readonly stack: string;
  readonly all?: boolean;
  readonly dryRun?: boolean;
  /** Follow the task until it stops (the default), or return once it is started. */
  readonly wait?: boolean;
  readonly timeoutMs?: number;
}

/** The operator's side of `strata db rebuild --aws`: start the task, and follow it to its exit code. */
export async function rebuildOnAws(
  o: RebuildOnAwsOptions,
  clients: { cfn: CloudFormationClient; ecs: ECSClient },
  onStatus: (status: string) => void = () => {},
  clock = {
    sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
    now: () => Date.now(),
  },
): Promise<{ task: LaunchedTask; end?: TaskEnd }> {
  const command: TaskCommand = { command: 'db-rebuild', all: o.all, dryRun: o.dryRun };
  const task = await launchRebuildTask(clients, o.stack, command);
  onStatus(`started ${task.taskArn}; its log is in ${task.logGroup}`);
  if (o.wait === false) return { task };
  const end = await waitForTask(
    clients.ecs,
    task,
    { everyMs: 10_000, timeoutMs: o.timeoutMs ?? 6 * 3_600_000, ...clock },
    onStatus,
  );
  return { task, end };
}
