import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DATABASE_NAME, ENV } from '../../runtime/aws/names.ts';
import type { DatabaseCapacity } from '../../runtime/cost/ledger.ts';
import type { TaskSize } from '../config/schema.ts';
import type { CatalogDeployment } from './catalog-deployment.ts';

export type TaskImage =
  | { readonly from: 'standalone' }
  | {
      readonly from: 'core';
      readonly account: string;
      readonly region: string;
      readonly repository: string;
      readonly tag: string;
    };

export interface TaskRunnerProps {
  readonly vpc: ec2.IVpc;
  readonly image: TaskImage;
  readonly sizes: Readonly<Record<'small' | 'medium' | 'large', TaskSize>>;
  readonly buckets: {
    readonly ingress: s3.IBucket;
    readonly archive: s3.IBucket;
    readonly egress: s3.IBucket;
  };
  readonly database: {
    readonly host: string;
    readonly port: number;
    readonly secretArn: string;
  };
  readonly logRetention: logs.RetentionDays;
  /** Tasks queue builds of the products a new dataset version feeds. */
  readonly jobsQueue: sqs.IQueue;
  /** The child's catalog, which tasks read at start (the image holds code only). */
  readonly catalog: CatalogDeployment;
  /** The cluster's capacity settings, for the Aurora estimate in each run's cost ledger. */
  readonly databaseCapacity: DatabaseCapacity;
  /** Extra environment for the job container (federation). */
  readonly environment?: Record<string, string>;
  /** The environment's upload limit, checked by the task against the bytes it reads. */
  readonly maxUploadBytes: number;
}

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The one platform the task image is built for and run on. ARM64 (Graviton): a fifth cheaper per vCPU and
 * GB than x86_64 on Fargate, and every dependency (Node, GDAL from Debian) builds for it. The asset and the
 * task definitions name it, and docs/deploy.md builds with `docker buildx build --platform linux/arm64`, so an
 * image built on an x86 laptop or CI runner is still an ARM64 image.
 */
export const TASK_PLATFORM = {
  docker: 'linux/arm64',
  asset: Platform.LINUX_ARM64,
  cpuArchitecture: ecs.CpuArchitecture.ARM64,
} as const;

/** What the image is built from: code only. The catalog is deployed with each child, never baked in. */
export const IMAGE_EXCLUDES = [
  'node_modules',
  'cdk.out',
  '.strata',
  '.git',
  'bench/out',
  'test',
  'dist',
  'catalog',
  'examples',
];

/**
 * Where jobs run: an ECS cluster with no standing service, and one Fargate task definition per job size.
 * The task role reads ingress, writes the archive (never deletes), writes egress, and connects to the
 * database with IAM authentication.
 */
export class TaskRunner extends Construct {
  readonly cluster: ecs.Cluster;
  readonly securityGroup: ec2.SecurityGroup;
  readonly taskRole: iam.Role;
  readonly executionRole: iam.Role;
  readonly definitions: Record<'small' | 'medium' | 'large', ecs.FargateTaskDefinition>;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: TaskRunnerProps) {
    super(scope, id);
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    this.securityGroup = new ec2.SecurityGroup(this, 'TaskSecurityGroup', {
      vpc: props.vpc,
      description: 'Strata tasks: outbound only, no inbound rule',
      allowAllOutbound: true,
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    this.taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description:
        'Strata task: read ingress, write archive without delete, write egress, connect to the database',
    });
    props.buckets.ingress.grantRead(this.taskRole);
    // Put, never delete: an archived version is kept for good. Exactly what the object store does: PutObject
    // (single and multipart uploads) and aborting a failed multipart upload, with no tags, legal holds or
    // retention, so none of those rights (which grantPut adds) is granted.
    props.buckets.archive.grantRead(this.taskRole);
    props.buckets.egress.grantRead(this.taskRole);
    this.taskRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [props.buckets.archive.arnForObjects('*'), props.buckets.egress.arnForObjects('*')],
      }),
    );
    props.jobsQueue.grantSendMessages(this.taskRole);
    const stack = this.cluster.stack;
    // Tasks log in with the cluster's managed secret (docs/deploy.md, "Deploy-day fixes": why not a narrower role yet),
    // so no rds-db:connect is granted for a database user no migration creates.
    this.taskRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [props.database.secretArn],
      }),
    );
    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Strata task execution: pull the image, write logs',
    });

    const image =
      props.image.from === 'standalone'
        ? ecs.ContainerImage.fromAsset(ROOT, {
            file: 'tasks/Dockerfile',
            platform: TASK_PLATFORM.asset,
            exclude: IMAGE_EXCLUDES,
          })
        : ecs.ContainerImage.fromEcrRepository(
            ecr.Repository.fromRepositoryAttributes(this, 'CoreRepository', {
              repositoryArn: `arn:${stack.partition}:ecr:${props.image.region}:${props.image.account}:repository/${props.image.repository}`,
              repositoryName: props.image.repository,
            }),
            props.image.tag,
          );

    const environment = {
      [ENV.ingressBucket]: props.buckets.ingress.bucketName,
      [ENV.archiveBucket]: props.buckets.archive.bucketName,
      [ENV.egressBucket]: props.buckets.egress.bucketName,
      [ENV.databaseHost]: `${props.database.host}:${props.database.port}`,
      [ENV.databaseName]: DATABASE_NAME,
      [ENV.secretArn]: props.database.secretArn,
      [ENV.jobsQueueUrl]: props.jobsQueue.queueUrl,
      [ENV.databaseCapacity]: JSON.stringify(props.databaseCapacity),
      ...props.catalog.environment(),
      ...props.environment,
      [ENV.maxUploadBytes]: String(props.maxUploadBytes),
    };
    props.catalog.grantRead(this.taskRole);
    const make = (size: 'small' | 'medium' | 'large', t: TaskSize) => {
      const def = new ecs.FargateTaskDefinition(this, `${size[0]!.toUpperCase()}${size.slice(1)}Task`, {
        cpu: t.cpu,
        memoryLimitMiB: t.memoryMiB,
        ephemeralStorageGiB: t.ephemeralStorageGiB,
        runtimePlatform: {
          cpuArchitecture: TASK_PLATFORM.cpuArchitecture,
          operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
        },
        taskRole: this.taskRole,
        executionRole: this.executionRole,
      });
      def.addContainer('job', {
        image,
        essential: true,
        environment: { ...environment, [ENV.taskSize]: JSON.stringify({ size, ...t }) },
        logging: ecs.LogDrivers.awsLogs({ streamPrefix: size, logGroup: this.logGroup }),
        stopTimeout: Duration.seconds(60),
        readonlyRootFilesystem: false,
      });
      return def;
    };
    this.definitions = {
      small: make('small', props.sizes.small),
      medium: make('medium', props.sizes.medium),
      large: make('large', props.sizes.large),
    };
  }

  /** Lets a Lambda start tasks of these definitions, tag them as it starts them, pass them their roles, and count the running ones. */
  grantRun(grantee: iam.IGrantable): void {
    for (const def of Object.values(this.definitions)) def.grantRun(grantee);
    // RunTask with tags (the run id, read by the reconciler and the cost ledger) is also authorised as
    // ecs:TagResource on the new task; without this every RunTask is denied. Only while RunTask creates it.
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:TagResource'],
        resources: [
          this.cluster.stack.formatArn({
            service: 'ecs',
            resource: 'task',
            resourceName: `${this.cluster.clusterName}/*`,
          }),
        ],
        conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
      }),
    );
    this.grantOnClusterTasks(grantee, ['ecs:ListTasks']);
  }

  /** Lets a Lambda count and stop the cluster's tasks, and nothing more: the reconciler starts none itself. */
  grantWatch(grantee: iam.IGrantable): void {
    this.grantOnClusterTasks(grantee, ['ecs:ListTasks', 'ecs:StopTask']);
  }

  private grantOnClusterTasks(grantee: iam.IGrantable, actions: string[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions,
        resources: ['*'],
        conditions: { ArnEquals: { 'ecs:cluster': this.cluster.clusterArn } },
      }),
    );
  }
}
