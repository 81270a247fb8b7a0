import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { STACK_OUTPUT } from '../../runtime/aws/stack-outputs.ts';
import type { ChildEnvironment } from '../config/schema.ts';
import { CatalogDeployment } from '../constructs/catalog-deployment.ts';
import { DataBuckets } from '../constructs/data-buckets.ts';
import { FederationLink } from '../constructs/federation-link.ts';
import { JobQueue } from '../constructs/job-queue.ts';
import { Network } from '../constructs/network.ts';
import { Observability } from '../constructs/observability.ts';
import { PartnerApi } from '../constructs/partner-api.ts';
import { PostgisCluster } from '../constructs/postgis-cluster.ts';
import { PublishNotifications } from '../constructs/publish-notifications.ts';
import { TaskRunner } from '../constructs/task-runner.ts';
import { type CatalogSchedule, Triggers } from '../constructs/triggers.ts';
import { logRetention } from './retention.ts';

/** A child's catalog, read at synth: where it is, and its schedules. */
export interface ChildCatalog {
  /** The catalog directory (absolute). */
  readonly dir: string;
  /** One EventBridge schedule each, made from the catalog. */
  readonly schedules: readonly CatalogSchedule[];
}

export interface ChildStackProps extends StackProps {
  readonly config: ChildEnvironment;
  readonly catalog: ChildCatalog;
}

/** An organisation's whole data stack. It only wires constructs together. */
export class ChildStack extends Stack {
  readonly network: Network;
  readonly buckets: DataBuckets;
  readonly database: PostgisCluster;
  readonly jobs: JobQueue;
  readonly tasks: TaskRunner;
  readonly triggers: Triggers;
  readonly api: PartnerApi;
  readonly observability: Observability;
  readonly catalog: CatalogDeployment;
  readonly federation?: FederationLink;
  readonly notifications: PublishNotifications;

  constructor(scope: Construct, id: string, props: ChildStackProps) {
    super(scope, id, props);
    const c = props.config;
    const retention = logRetention(c.logRetentionDays);
    this.network = new Network(this, 'Network', {
      mode: c.network.mode,
      maxAzs: c.network.maxAzs,
      // Tasks put partners' publish notifications (and a core's summaries) on EventBridge.
      eventBridgeEndpoint: true,
      logRetention: retention,
    });
    this.buckets = new DataBuckets(this, 'Buckets', {
      ingressExpireAfterDays: c.ingress.expireAfterDays,
      allowDestroy: c.allowDestroy,
      archiveBreakGlassRole: c.archiveBreakGlassRole,
    });
    this.database = new PostgisCluster(this, 'Database', {
      vpc: this.network.vpc,
      minAcu: c.database.minAcu,
      maxAcu: c.database.maxAcu,
      autoPause: Duration.seconds(c.database.autoPauseSeconds),
      allowDestroy: c.allowDestroy,
      logRetention: retention,
    });
    this.jobs = new JobQueue(this, 'Jobs');
    this.catalog = new CatalogDeployment(this, 'Catalog', { dir: props.catalog.dir });
    if (c.federation)
      this.federation = new FederationLink(this, 'Federation', {
        child: c.name,
        coreAccount: c.federation.coreAccount,
        coreRegion: c.federation.coreRegion,
      });
    this.notifications = new PublishNotifications(this, 'Notifications', { namePrefix: `strata-${c.name}-` });
    this.tasks = new TaskRunner(this, 'Tasks', {
      vpc: this.network.vpc,
      image: c.image,
      sizes: c.tasks,
      buckets: this.buckets,
      database: {
        host: this.database.cluster.clusterEndpoint.hostname,
        port: this.database.cluster.clusterEndpoint.port,
        secretArn: this.database.secretArn,
      },
      logRetention: retention,
      jobsQueue: this.jobs.queue,
      catalog: this.catalog,
      databaseCapacity: c.database,
      environment: { ...this.federation?.environment(c.name), ...this.notifications.environment() },
      maxUploadBytes: c.ingress.maxUploadBytes,
    });
    this.federation?.grantSend(this.tasks.taskRole);
    this.notifications.grantPut(this.tasks.taskRole);
    this.database.allowFrom(this.tasks.securityGroup);
    this.triggers = new Triggers(this, 'Triggers', {
      ingress: this.buckets.ingress,
      queue: this.jobs,
      database: this.database,
      tasks: this.tasks,
      network: this.network,
      schedules: props.catalog.schedules,
      catalog: this.catalog,
      maxConcurrentTasks: c.maxConcurrentTasks,
      maxUploadBytes: c.ingress.maxUploadBytes,
      logRetention: retention,
    });
    this.notifications.consumeDeadLetters(this.triggers.deadLetter.fn);
    this.api = new PartnerApi(this, 'PartnerApi', {
      database: this.database,
      catalog: this.catalog,
      buckets: this.buckets,
      jobsQueue: this.jobs.queue,
      webhook: this.triggers.webhook.fn,
      maxUploadBytes: c.ingress.maxUploadBytes,
      rateLimit: c.api.rateLimit,
      burstLimit: c.api.burstLimit,
      publicBaseUrl: c.api.publicBaseUrl,
      corsOrigins: c.api.corsOrigins,
      portalSignIn: c.api.portalSignIn,
      manageAccountCloudWatchRole: c.api.manageAccountCloudWatchRole,
      notifications: this.notifications,
      logRetention: retention,
    });
    this.observability = new Observability(this, 'Observability', {
      alarms: [
        this.jobs.deadLetterAlarm,
        ...Object.values(this.triggers.eventDeadLetters).map((d) => d.alarm),
        ...(this.federation ? [this.federation.forwardDeadLetters.alarm] : []),
        this.notifications.deadLetterAlarm,
      ],
      taskLogGroup: this.tasks.logGroup,
      functions: {
        IngressObjectCreated: this.triggers.objectCreated.fn,
        Schedule: this.triggers.schedule.fn,
        Webhook: this.triggers.webhook.fn,
        Dispatcher: this.triggers.dispatcher.fn,
        Reconciler: this.triggers.reconciler.fn,
        DeadLetter: this.triggers.deadLetter.fn,
        PartnerApi: this.api.handler.fn,
      },
      alarmEmail: c.alarmEmail,
      environmentName: c.name,
      jobsQueue: this.jobs.queue,
      deadLetterQueue: this.jobs.deadLetterQueue,
      ecsClusterName: this.tasks.cluster.clusterName,
      databaseClusterIdentifier: this.database.cluster.clusterIdentifier,
      scheduledProducts: props.catalog.schedules
        .filter((s) => s.kind === 'product')
        .map((s) => ({ name: s.name, expression: s.expression })),
      staleGrace: Duration.minutes(c.alarms.staleGraceMinutes),
    });
    new CfnOutput(this, 'IngressBucketName', { value: this.buckets.ingress.bucketName });
    new CfnOutput(this, 'EgressBucketName', { value: this.buckets.egress.bucketName });
    new CfnOutput(this, STACK_OUTPUT.partnerApiUrl, { value: this.api.api.url });
    new CfnOutput(this, 'CatalogSha256', {
      description: `sha256 of the catalog deployed with this stack (${c.catalog}); every run records the one it used`,
      value: this.catalog.sha256,
    });
    if (this.federation)
      new CfnOutput(this, 'FederationKeySecretArn', {
        description:
          "the secret this child's signing key derives from: `strata core pubkey` gives the core its public key",
        value: this.federation.keySecret.secretArn,
      });
    new CfnOutput(this, STACK_OUTPUT.partnerDirectorySecretArn, { value: this.api.partners.secretArn });
    // What `strata smoke` follows a run through, and the log groups it names when a hop fails.
    const outputs: [string, string][] = [
      [STACK_OUTPUT.taskClusterArn, this.tasks.cluster.clusterArn],
      [STACK_OUTPUT.taskLogGroup, this.tasks.logGroup.logGroupName],
      [STACK_OUTPUT.ingressLogGroup, this.triggers.objectCreated.fn.logGroup.logGroupName],
      [STACK_OUTPUT.dispatcherLogGroup, this.triggers.dispatcher.fn.logGroup.logGroupName],
      [STACK_OUTPUT.partnerApiLogGroup, this.api.handler.fn.logGroup.logGroupName],
      // What `strata db rebuild --aws` starts its task with, as the dispatcher starts a job's.
      [STACK_OUTPUT.largeTaskDefinition, this.tasks.definitions.large.taskDefinitionArn],
      [
        STACK_OUTPUT.taskSubnets,
        this.network.vpc.selectSubnets(this.network.taskSubnets).subnetIds.join(','),
      ],
      [STACK_OUTPUT.taskSecurityGroup, this.tasks.securityGroup.securityGroupId],
      [STACK_OUTPUT.taskPublicIp, String(this.network.assignPublicIp)],
    ];
    for (const [id, value] of outputs) new CfnOutput(this, id, { value });
  }

  /** Fixed zones, so `cdk synth` needs no AWS call to look them up. */
  override get availabilityZones(): string[] {
    return [`${this.region}a`, `${this.region}b`, `${this.region}c`];
  }
}
