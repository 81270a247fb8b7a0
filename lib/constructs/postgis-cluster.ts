import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, CustomResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { DATABASE_NAME, ENV } from '../../runtime/aws/names.ts';
import { StrataFunction } from './strata-function.ts';

/** The longest a deploy waits for the migrations before CloudFormation is told they FAILED. */
export const MIGRATIONS_TOTAL_TIMEOUT = Duration.minutes(30);

export interface PostgisClusterProps {
  readonly vpc: ec2.IVpc;
  /** @default 0 — Aurora pauses when idle */
  readonly minAcu?: number;
  /** @default 4 */
  readonly maxAcu?: number;
  /** Idle time before pausing at 0 ACU. @default 5 minutes */
  readonly autoPause?: Duration;
  readonly allowDestroy?: boolean;
  readonly logRetention: logs.RetentionDays;
  /** The platform's migrations, applied on every deploy that changes them. @default the repository's sql/ */
  readonly migrationsDir?: string;
}

/**
 * Aurora Serverless v2 PostgreSQL with PostGIS: the build engine and the home of the platform's runs. At
 * 0 ACU it pauses when idle and costs only its storage. The master password is managed and rotated by RDS in
 * Secrets Manager (no rotation Lambda, so no network path to Secrets Manager is needed); the Data API lets
 * Lambdas use it without a connection, and the platform's migrations are applied through it on deploy.
 */
export class PostgisCluster extends Construct {
  readonly cluster: rds.DatabaseCluster;
  readonly secretArn: string;
  readonly securityGroup: ec2.SecurityGroup;
  readonly migrations: CustomResource;
  readonly migrationsProvider: cr.Provider;

  constructor(scope: Construct, id: string, props: PostgisClusterProps) {
    super(scope, id);
    const minAcu = props.minAcu ?? 0;
    const maxAcu = props.maxAcu ?? 4;
    if (minAcu < 0 || minAcu > 256) throw new Error(`\`minAcu\` must be between 0 and 256, got: ${minAcu}.`);
    if (maxAcu < Math.max(1, minAcu) || maxAcu > 256)
      throw new Error(`\`maxAcu\` must be between ${Math.max(1, minAcu)} and 256, got: ${maxAcu}.`);
    if (props.allowDestroy)
      Annotations.of(this).addWarningV2(
        'strata:allow-destroy',
        'allowDestroy is set: the database is deleted with the stack, without a snapshot.',
      );

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Strata PostGIS cluster: PostgreSQL from the platform tasks only',
      allowAllOutbound: false,
    });
    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_17_7 }),
      writer: rds.ClusterInstance.serverlessV2('Writer', { autoMinorVersionUpgrade: true }),
      serverlessV2MinCapacity: minAcu,
      serverlessV2MaxCapacity: maxAcu,
      ...(minAcu === 0 ? { serverlessV2AutoPauseDuration: props.autoPause ?? Duration.minutes(5) } : {}),
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [this.securityGroup],
      defaultDatabaseName: DATABASE_NAME,
      credentials: rds.Credentials.fromUsername('strata_admin'),
      manageMasterUserPassword: true,
      enableDataApi: true,
      iamAuthentication: true,
      storageEncrypted: true,
      deletionProtection: !props.allowDestroy,
      removalPolicy: props.allowDestroy ? RemovalPolicy.DESTROY : RemovalPolicy.SNAPSHOT,
      backup: { retention: Duration.days(7) },
      cloudwatchLogsExports: ['postgresql'],
      cloudwatchLogsRetention: props.logRetention,
    });
    this.secretArn = (this.cluster.node.defaultChild as rds.CfnDBCluster).attrMasterUserSecretSecretArn;

    const dir = props.migrationsDir ?? join(import.meta.dirname, '..', '..', 'sql');
    const files = readdirSync(dir)
      .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
      .sort();
    const migrations = files.map((name) => ({ name, sql: readFileSync(join(dir, name), 'utf8') }));
    const hash = createHash('sha256').update(JSON.stringify(migrations)).digest('hex');

    // On the Provider framework, so CloudFormation never waits on a Lambda that timed out (an hour, with a
    // bare custom resource): onEvent checks the request; isComplete applies what is new, answering "not yet"
    // while a paused cluster resumes, and is asked every 15 s until done, a failure (FAILED, with the
    // migration's error), or the total timeout (FAILED).
    const common = {
      entry: 'lambdas/migrate/handler.ts',
      logRetention: props.logRetention,
      environment: this.dataApiEnvironment(),
    };
    const onEvent = new StrataFunction(this, 'Migrator', {
      ...common,
      handler: 'onEvent',
      description: 'Custom::StrataMigrations onEvent: checks the request and names the resource',
    });
    const apply = new StrataFunction(this, 'MigrationsApply', {
      ...common,
      handler: 'isComplete',
      description:
        'Custom::StrataMigrations isComplete: applies the platform migrations through the Data API',
      timeout: Duration.minutes(5),
    });
    this.grantDataApi(apply.fn);
    this.migrationsProvider = new cr.Provider(this, 'MigrationsProvider', {
      onEventHandler: onEvent.fn,
      isCompleteHandler: apply.fn,
      queryInterval: Duration.seconds(15),
      totalTimeout: MIGRATIONS_TOTAL_TIMEOUT,
      logGroup: new logs.LogGroup(this, 'MigrationsProviderLogs', { retention: props.logRetention }),
      waiterStateMachineLogOptions: {
        destination: new logs.LogGroup(this, 'MigrationsWaiterLogs', { retention: props.logRetention }),
        level: sfn.LogLevel.ALL,
      },
      disableWaiterStateMachineLogging: false,
    });
    this.migrations = new CustomResource(this, 'Migrations', {
      serviceToken: this.migrationsProvider.serviceToken,
      resourceType: 'Custom::StrataMigrations',
      // A new hash (any change in sql/) makes CloudFormation send an Update, which applies what is new.
      properties: { hash, migrations },
    });
    this.migrations.node.addDependency(this.cluster);
  }

  /** The environment a Lambda needs to reach this cluster through the Data API. */
  dataApiEnvironment(): Record<string, string> {
    return {
      [ENV.clusterArn]: this.cluster.clusterArn,
      [ENV.secretArn]: this.secretArn,
      [ENV.databaseName]: DATABASE_NAME,
    };
  }

  /** Data API access for a Lambda: execute statements and read the managed secret. */
  grantDataApi(grantee: iam.IGrantable): void {
    this.cluster.grantDataApiAccess(grantee);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [this.secretArn] }),
    );
  }

  /** Lets tasks in `peer` reach PostgreSQL. */
  allowFrom(peer: ec2.ISecurityGroup): void {
    this.securityGroup.addIngressRule(
      peer,
      ec2.Port.tcp(this.cluster.clusterEndpoint.port),
      'PostgreSQL from Strata tasks',
    );
  }
}
