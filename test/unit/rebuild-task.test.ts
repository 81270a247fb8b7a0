import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTasksCommand, ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ENV } from '../../runtime/aws/names.ts';
import { rebuildOnAws, TaskCommand } from '../../runtime/aws/rebuild-task.ts';
import { STACK_OUTPUT } from '../../runtime/aws/stack-outputs.ts';

const cfn = mockClient(CloudFormationClient);
const ecs = mockClient(ECSClient);
const clients = () => ({ cfn: new CloudFormationClient({}), ecs: new ECSClient({}) });

const CLUSTER = 'arn:aws:ecs:eu-west-2:111122223333:cluster/strata';
const TASK = 'arn:aws:ecs:eu-west-2:111122223333:task/strata/abc';
const OUTPUTS: Record<string, string> = {
  [STACK_OUTPUT.taskClusterArn]: CLUSTER,
  [STACK_OUTPUT.taskLogGroup]: '/strata/tasks',
  [STACK_OUTPUT.largeTaskDefinition]: 'arn:aws:ecs:eu-west-2:111122223333:task-definition/strata-large:3',
  [STACK_OUTPUT.taskSubnets]: 'subnet-a,subnet-b',
  [STACK_OUTPUT.taskSecurityGroup]: 'sg-1',
  [STACK_OUTPUT.taskPublicIp]: 'true',
};
const stackWith = (outputs: Record<string, string>) =>
  cfn.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'strata-child-a',
        CreationTime: new Date(),
        StackStatus: 'UPDATE_COMPLETE',
        Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });

/** A clock the wait loop runs on, with no real waiting: each sleep moves it on. */
function fakeClock() {
  let t = 0;
  const slept: number[] = [];
  return {
    slept,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
    now: () => t,
  };
}

beforeEach(() => {
  cfn.reset();
  ecs.reset();
});

describe('strata db rebuild --aws', () => {
  it("starts one large task on the job tasks' network, told the command, and follows it to its exit code", async () => {
    stackWith(OUTPUTS);
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    ecs
      .on(DescribeTasksCommand)
      .resolvesOnce({ tasks: [{ lastStatus: 'PROVISIONING' }] })
      .resolvesOnce({ tasks: [{ lastStatus: 'RUNNING' }] })
      .resolvesOnce({ tasks: [{ lastStatus: 'RUNNING' }] })
      .resolves({ tasks: [{ lastStatus: 'STOPPED', containers: [{ name: 'job', exitCode: 0 }] }] });
    const seen: string[] = [];
    const clock = fakeClock();
    const r = await rebuildOnAws(
      { stack: 'strata-child-a', all: true },
      clients(),
      (s) => seen.push(s),
      clock,
    );
    expect(r.end).toEqual({ exitCode: 0, stoppedReason: undefined });
    expect(r.task).toEqual({ cluster: CLUSTER, taskArn: TASK, logGroup: '/strata/tasks' });
    // Each status once, as it changes.
    expect(seen.slice(1)).toEqual(['PROVISIONING', 'RUNNING', 'STOPPED']);
    expect(clock.slept).toEqual([10_000, 10_000, 10_000]);

    const run = ecs.commandCalls(RunTaskCommand)[0]!.args[0].input;
    expect(run.taskDefinition).toBe(OUTPUTS[STACK_OUTPUT.largeTaskDefinition]);
    expect(run.launchType).toBe('FARGATE');
    expect(run.networkConfiguration?.awsvpcConfiguration).toEqual({
      subnets: ['subnet-a', 'subnet-b'],
      securityGroups: ['sg-1'],
      assignPublicIp: 'ENABLED',
    });
    const env = run.overrides?.containerOverrides?.[0];
    expect(env?.name).toBe('job');
    expect(env?.environment).toHaveLength(1);
    expect(env?.environment?.[0]?.name).toBe(ENV.taskCommand);
    // What the task will parse, exactly as the task parses it.
    expect(TaskCommand.parse(JSON.parse(env?.environment?.[0]?.value ?? ''))).toEqual({
      command: 'db-rebuild',
      all: true,
    });
  });

  it('says the exit code and reason of a task that failed, and returns at once with --no-wait', async () => {
    stackWith({ ...OUTPUTS, [STACK_OUTPUT.taskPublicIp]: 'false' });
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        {
          lastStatus: 'STOPPED',
          stoppedReason: 'Essential container in task exited',
          containers: [{ name: 'job', exitCode: 1 }],
        },
      ],
    });
    const failed = await rebuildOnAws({ stack: 's' }, clients(), undefined, fakeClock());
    expect(failed.end).toEqual({ exitCode: 1, stoppedReason: 'Essential container in task exited' });
    const run = ecs.commandCalls(RunTaskCommand)[0]!.args[0].input;
    expect(run.networkConfiguration?.awsvpcConfiguration?.assignPublicIp).toBe('DISABLED');

    ecs.resetHistory();
    const started = await rebuildOnAws({ stack: 's', wait: false }, clients(), undefined, fakeClock());
    expect(started.end).toBeUndefined();
    expect(ecs.commandCalls(DescribeTasksCommand)).toHaveLength(0);
  });

  it('names the outputs a stack deployed before them lacks, and starts nothing', async () => {
    const { [STACK_OUTPUT.taskSubnets]: _, [STACK_OUTPUT.largeTaskDefinition]: __, ...old } = OUTPUTS;
    stackWith(old);
    await expect(rebuildOnAws({ stack: 'strata-child-a' }, clients())).rejects.toThrow(
      /strata-child-a has no output LargeTaskDefinitionArn, TaskSubnets: deploy this version/,
    );
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
  });

  it('stops waiting after its timeout and says the status the task is in', async () => {
    stackWith(OUTPUTS);
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    ecs.on(DescribeTasksCommand).resolves({ tasks: [{ lastStatus: 'RUNNING' }] });
    await expect(
      rebuildOnAws({ stack: 's', timeoutMs: 60_000 }, clients(), undefined, fakeClock()),
    ).rejects.toThrow(/still RUNNING after 1 min/);
  });

  it('reports a RunTask failure (no capacity, a bad definition) with its reason', async () => {
    stackWith(OUTPUTS);
    ecs.on(RunTaskCommand).resolves({ failures: [{ reason: 'RESOURCE:MEMORY', detail: 'none left' }] });
    await expect(rebuildOnAws({ stack: 's' }, clients())).rejects.toThrow(
      /RunTask failed: RESOURCE:MEMORY none left/,
    );
  });
});
