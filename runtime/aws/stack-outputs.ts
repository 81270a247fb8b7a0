import {
  type CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
} from '@aws-sdk/client-cloudformation';

/**
 * The child stack's outputs `strata smoke` and `strata db rebuild --aws` read (CloudFormation DescribeStacks):
 * where to upload, where to read back, the log groups named when a hop of a run fails, and what a task started
 * by hand needs. One place, so the stack that writes them and the commands that read them cannot drift.
 */
export const STACK_OUTPUT = {
  partnerApiUrl: 'PartnerApiUrl',
  partnerDirectorySecretArn: 'PartnerDirectorySecretArn',
  taskClusterArn: 'TaskClusterArn',
  taskLogGroup: 'TaskLogGroup',
  ingressLogGroup: 'IngressLogGroup',
  dispatcherLogGroup: 'DispatcherLogGroup',
  partnerApiLogGroup: 'PartnerApiLogGroup',
  // What `strata db rebuild --aws` starts its task with: the job tasks' network and the large size.
  largeTaskDefinition: 'LargeTaskDefinitionArn',
  taskSubnets: 'TaskSubnets',
  taskSecurityGroup: 'TaskSecurityGroup',
  taskPublicIp: 'TaskPublicIp',
} as const;

export class StackOutputsError extends Error {}

/** A stack's outputs by key; says which of `needed` it lacks (a stack deployed before they were added). */
export async function readStackOutputs(
  cfn: CloudFormationClient,
  stack: string,
  needed: readonly string[] = [],
): Promise<Record<string, string>> {
  let described: DescribeStacksCommandOutput;
  try {
    described = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
  } catch (e) {
    throw new StackOutputsError(`CloudFormation DescribeStacks ${stack}: ${(e as Error).message}`);
  }
  const s = described.Stacks?.[0];
  if (!s) throw new StackOutputsError(`no stack ${stack}`);
  const outputs = Object.fromEntries((s.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  const missing = needed.filter((k) => !outputs[k]);
  if (missing.length)
    throw new StackOutputsError(
      `stack ${stack} has no output ${missing.join(', ')}: deploy this version of Strata's stack first`,
    );
  return outputs;
}
