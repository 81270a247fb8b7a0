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
  /** What a task does that is not a job (`strata db rebuild --aws`): a TaskCommand as JSON. */
  taskCommand: 'STRATA_COMMAND',
  webhookSecretArn: 'STRATA_WEBHOOK_SECRET_ARN',
  /** The catalog pack the child stack deployed, and the sha256 it must have. */
  catalogBucket: 'STRATA_CATALOG_BUCKET',
  catalogKey: 'STRATA_CATALOG_KEY',
  catalogSha256: 'STRATA_CATALOG_SHA256',
  /** The task definition's own size ({ size, cpu, memoryMiB, ephemeralStorageGiB }), and the cluster's capacity. */
  taskSize: 'STRATA_TASK_SIZE',
  databaseCapacity: 'STRATA_DB_CAPACITY',
  /** Federation, in a child: its name, the secret its signing key derives from, the bus its summaries go to. */
  childName: 'STRATA_CHILD_NAME',
  federationKeySecretArn: 'STRATA_FEDERATION_KEY_SECRET_ARN',
  federationBus: 'STRATA_FEDERATION_BUS',
  /** Federation, in the core: its children (name, account, public key) and the freshness table. */
  coreChildren: 'STRATA_CORE_CHILDREN',
  /** Where the core stack put its children's list (an S3 asset: a variable holds 4 KB, about 30 children). */
  coreChildrenBucket: 'STRATA_CORE_CHILDREN_BUCKET',
  coreChildrenKey: 'STRATA_CORE_CHILDREN_KEY',
  coreChildrenSha256: 'STRATA_CORE_CHILDREN_SHA256',
  freshnessTable: 'STRATA_FRESHNESS_TABLE',
  partnersSecretArn: 'STRATA_PARTNERS_SECRET_ARN',
  requestGuardsTable: 'STRATA_REQUEST_GUARDS_TABLE',
  publicBaseUrl: 'STRATA_PUBLIC_BASE_URL',
  corsOrigins: 'STRATA_CORS_ORIGINS',
  /**
   * Publish notifications: the bus tasks put them on, the prefix of each subscription's connection, API
   * destination and rule, the role EventBridge invokes the destinations with, and their dead-letter queue.
   */
  notificationsBus: 'STRATA_NOTIFICATIONS_BUS',
  notificationsPrefix: 'STRATA_NOTIFICATIONS_PREFIX',
  notificationsRoleArn: 'STRATA_NOTIFICATIONS_ROLE_ARN',
  notificationsDlqArn: 'STRATA_NOTIFICATIONS_DLQ_ARN',
} as const;

export const DATABASE_NAME = 'strata';
/** The metric namespace the handlers publish to and the alarms watch. */
export const METRICS_NAMESPACE = 'Strata';
/**
 * Powertools Metrics adds `service` as a dimension to every metric it emits, so every Strata metric carries
 * exactly these dimensions, and the alarms and the dashboard watch exactly these (CloudWatch matches a
 * metric only by its full set of dimensions).
 */
export const METRICS_SERVICE = 'strata';
export const METRIC_DIMENSIONS = { service: METRICS_SERVICE } as const;
/** `ProductPublished` is also emitted per product (stale-product alarms watch it): `metrics.addDimension('product', name)`. */
export const productMetricDimensions = (product: string) => ({ ...METRIC_DIMENSIONS, product }) as const;
/** The core's bus children forward to: named, because children name it in their config (by account and region). */
export const FEDERATION_BUS_NAME = 'strata-federation';
/** The key, in the webhook secrets document the stack generates, that each hook's own secret derives from. */
export const WEBHOOK_HOOK_KEY = 'hook-key';
