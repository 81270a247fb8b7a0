/**
 * Environment variable names shared by the CDK constructs that set them and the handlers and task that read
 * them: one place, so the two sides cannot drift.
 */
export const ENV = {
  ingressBucket: 'STRATA_INGRESS_BUCKET',
  archiveBucket: 'STRATA_ARCHIVE_BUCKET',
  egressBucket: 'STRATA_EGRESS_BUCKET',
  jobsQueueUrl: 'STRATA_JOBS_QUEUE_URL',
  clusterArn: 'STRATA_DB_CLUSTER_ARN',
  secretArn: 'STRATA_DB_SECRET_ARN',
  databaseName: 'STRATA_DB_NAME',
  databaseHost: 'STRATA_DB_HOST',
  ecsCluster: 'STRATA_ECS_CLUSTER',
  taskDefinitions: 'STRATA_TASK_DEFINITIONS',
  taskSubnets: 'STRATA_TASK_SUBNETS',
  taskSecurityGroup: 'STRATA_TASK_SECURITY_GROUP',
  taskAssignPublicIp: 'STRATA_TASK_PUBLIC_IP',
  maxConcurrentTasks: 'STRATA_MAX_CONCURRENT_TASKS',
  maxUploadBytes: 'STRATA_MAX_UPLOAD_BYTES',
  webhookSecretArn: 'STRATA_WEBHOOK_SECRET_ARN',
} as const;

export const DATABASE_NAME = 'strata';
/** The metric namespace the handlers publish to and the alarms watch. */
export const METRICS_NAMESPACE = 'Strata';
/** The `service` dimension Powertools gives every metric Strata emits; the alarms watch the same. */
export const METRICS_SERVICE = 'strata';
