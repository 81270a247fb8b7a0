/**
 * The child stack's outputs `strata smoke` reads (CloudFormation DescribeStacks): where to upload, where to
 * read back, and the log groups it names when a hop of a run fails. One place, so the stack that writes
 * them and the command that reads them cannot drift.
 */
export const STACK_OUTPUT = {
  partnerApiUrl: 'PartnerApiUrl',
  partnerDirectorySecretArn: 'PartnerDirectorySecretArn',
  taskClusterArn: 'TaskClusterArn',
  taskLogGroup: 'TaskLogGroup',
  ingressLogGroup: 'IngressLogGroup',
  dispatcherLogGroup: 'DispatcherLogGroup',
  partnerApiLogGroup: 'PartnerApiLogGroup',
} as const;
