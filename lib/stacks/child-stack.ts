import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ChildEnvironment } from '../config/schema.ts';
import { DataBuckets } from '../constructs/data-buckets.ts';
import { JobQueue } from '../constructs/job-queue.ts';
import { Network } from '../constructs/network.ts';
import { Observability } from '../constructs/observability.ts';
import { PartnerApi } from '../constructs/partner-api.ts';
import { PostgisCluster } from '../constructs/postgis-cluster.ts';
import { TaskRunner } from '../constructs/task-runner.ts';
import { type CatalogSchedule, Triggers } from '../constructs/triggers.ts';
import { logRetention } from './retention.ts';

export interface ChildStackProps extends StackProps {
  readonly config: ChildEnvironment;
  /** One EventBridge schedule each, made from the catalog at synth. */
  readonly schedules: readonly CatalogSchedule[];
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

  constructor(scope: Construct, id: string, props: ChildStackProps) {
    super(scope, id, props);
    const c = props.config;
    const retention = logRetention(c.logRetentionDays);
    this.network = new Network(this, 'Network', {
      mode: c.network.mode,
      maxAzs: c.network.maxAzs,
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
    this.tasks = new TaskRunner(this, 'Tasks', {
      vpc: this.network.vpc,
      image: c.image,
      sizes: c.tasks,
      buckets: this.buckets,
      database: {
        host: this.database.cluster.clusterEndpoint.hostname,
        port: this.database.cluster.clusterEndpoint.port,
        secretArn: this.database.secretArn,
        clusterResourceId: this.database.cluster.clusterResourceIdentifier,
      },
      logRetention: retention,
      jobsQueue: this.jobs.queue,
      maxUploadBytes: c.ingress.maxUploadBytes,
    });
    this.database.allowFrom(this.tasks.securityGroup);
    this.triggers = new Triggers(this, 'Triggers', {
      ingress: this.buckets.ingress,
      queue: this.jobs,
      database: this.database,
      tasks: this.tasks,
      network: this.network,
      schedules: props.schedules,
      maxConcurrentTasks: c.maxConcurrentTasks,
      maxUploadBytes: c.ingress.maxUploadBytes,
      logRetention: retention,
    });
    this.api = new PartnerApi(this, 'PartnerApi', {
      database: this.database,
      egressBucketName: this.buckets.egress.bucketName,
      webhook: this.triggers.webhook.fn,
      rateLimit: c.api.rateLimit,
      burstLimit: c.api.burstLimit,
      logRetention: retention,
    });
    this.buckets.egress.grantRead(this.api.handler.fn);
    this.observability = new Observability(this, 'Observability', {
      alarms: [this.jobs.dlqDepthAlarm],
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
    });
    new CfnOutput(this, 'IngressBucketName', { value: this.buckets.ingress.bucketName });
    new CfnOutput(this, 'EgressBucketName', { value: this.buckets.egress.bucketName });
    new CfnOutput(this, 'PartnerApiUrl', { value: this.api.api.url });
  }

  /** Fixed zones, so `cdk synth` needs no AWS call to look them up. */
  override get availabilityZones(): string[] {
    return [`${this.region}a`, `${this.region}b`, `${this.region}c`];
  }
}
