import type { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { nagFindings, synthEnvironment } from './helpers.ts';

describe('child stack, defaults (child-a)', () => {
  let stack: Stack;
  let t: Template;
  beforeAll(async () => {
    stack = await synthEnvironment('child-a', {}, [
      { kind: 'dataset', name: 'air_quality', expression: '15 2 * * *' },
      { kind: 'product', name: 'county_places', expression: 'rate(6 hours)' },
    ]);
    t = Template.fromStack(stack);
  });

  it('has no unsuppressed cdk-nag findings', () => {
    expect(nagFindings(stack, 'error')).toEqual([]);
    expect(nagFindings(stack, 'warning')).toEqual([]);
  });

  it('scales to zero: Aurora at 0 ACU with auto-pause, no NAT gateway, no standing ECS service', () => {
    t.hasResourceProperties('AWS::RDS::DBCluster', {
      ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 4, SecondsUntilAutoPause: 300 },
      EnableHttpEndpoint: true,
      StorageEncrypted: true,
      DeletionProtection: true,
      ManageMasterUserPassword: true,
      EnableIAMDatabaseAuthentication: true,
      Engine: 'aurora-postgresql',
      EngineVersion: Match.stringLikeRegexp('^1[6-8]\\.'),
    });
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    t.resourceCountIs('AWS::ECS::Service', 0);
    t.resourceCountIs('AWS::EC2::VPCEndpoint', 1);
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway' });
  });

  it('sends undeliverable jobs to a dead-letter queue, with an alarm on the dead letters it receives', () => {
    const queues = t.findResources('AWS::SQS::Queue');
    const dlq = Object.entries(queues).find(([id]) => id.startsWith('JobsDeadLetter'))![0];
    t.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: 5 },
      VisibilityTimeout: 360,
      SqsManagedSseEnabled: true,
    });
    // Its consumer empties it in seconds: visible messages would never be seen; receives are.
    t.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 180, MessageRetentionPeriod: 1209600 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'NumberOfMessagesReceived',
      Statistic: 'Sum',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('keeps buckets private, TLS-only, logged and retained; the archive versioned', () => {
    const buckets = t.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(4);
    for (const b of Object.values(buckets)) {
      expect(b.DeletionPolicy).toBe('Retain');
      expect(b.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    }
    const archive = Object.entries(buckets).find(([id]) => id.includes('ArchiveBucket'))!;
    expect(archive[1].Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(archive[1].Properties.LoggingConfiguration.LogFilePrefix).toBe('archive/');
    const ingress = Object.entries(buckets).find(([id]) => id.includes('IngressBucket'))!;
    expect(ingress[1].Properties.LifecycleConfiguration.Rules).toContainEqual({
      ExpirationInDays: 7,
      NoncurrentVersionExpiration: { NoncurrentDays: 7 },
      Status: 'Enabled',
    });
    // The portal's page PUTs to a presigned URL; nothing else crosses origins.
    expect(ingress[1].Properties.CorsConfiguration).toEqual({
      CorsRules: [
        { AllowedHeaders: ['content-type'], AllowedMethods: ['PUT'], AllowedOrigins: ['*'], MaxAge: 3600 },
      ],
    });
    for (const p of Object.values(t.findResources('AWS::S3::BucketPolicy'))) {
      expect(JSON.stringify(p.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    }
  });

  it('grants no role of the platform delete on the archive', () => {
    for (const [id, policy] of Object.entries(t.findResources('AWS::IAM::Policy'))) {
      for (const s of policy.Properties.PolicyDocument.Statement as {
        Action: string | string[];
        Resource: unknown;
      }[]) {
        const actions = ([] as string[]).concat(s.Action);
        const touchesArchive = JSON.stringify(s.Resource).includes('ArchiveBucket');
        if (touchesArchive)
          expect(
            actions.filter((a) => /^s3:(Delete|\*)/.test(a)),
            id,
          ).toEqual([]);
      }
    }
  });

  it('pulls the task image from the core account and defines one task size per job class', () => {
    const defs = Object.values(t.findResources('AWS::ECS::TaskDefinition'));
    expect(defs.map((d) => [d.Properties.Cpu, d.Properties.Memory])).toEqual([
      ['512', '1024'],
      ['1024', '4096'],
      ['4096', '16384'],
    ]);
    const image = JSON.stringify(defs[0]!.Properties.ContainerDefinitions[0].Image);
    expect(image).toContain('111111111111.dkr.ecr.eu-west-2.');
    expect(image).toContain('strata-task:v0.1.0');
    t.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  it('makes one EventBridge schedule per scheduled dataset or product in the catalog', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(15 2 * * ? *)',
      Targets: [
        Match.objectLike({
          InputTransformer: Match.objectLike({
            InputTemplate: Match.stringLikeRegexp('"kind":"dataset","name":"air_quality","time":<time>'),
          }),
        }),
      ],
    });
    t.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(6 hours)',
      Targets: [
        Match.objectLike({
          InputTransformer: Match.objectLike({
            InputTemplate: Match.stringLikeRegexp('"kind":"product","name":"county_places"'),
          }),
        }),
      ],
    });
  });

  it('wires ingress object-created events, the dispatcher on the queue, and task-stopped events', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ source: ['aws.s3'], 'detail-type': ['Object Created'] }),
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        source: ['aws.ecs'],
        detail: Match.objectLike({ lastStatus: ['STOPPED'] }),
      }),
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
    });
  });

  it('logs, validates and throttles the partner API', () => {
    t.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 })],
    });
    t.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
  });

  it('applies the migrations through a custom resource keyed on their hash', () => {
    t.hasResourceProperties('Custom::StrataMigrations', {
      ServiceToken: { 'Fn::GetAtt': [Match.stringLikeRegexp('MigrationsProviderframeworkonEvent'), 'Arn'] },
      hash: Match.stringLikeRegexp('^[0-9a-f]{64}$'),
      migrations: Match.arrayWith([
        Match.objectLike({
          name: '001_platform.sql',
          sql: Match.stringLikeRegexp('CREATE EXTENSION IF NOT EXISTS postgis'),
        }),
        Match.objectLike({ name: '002_dispatch.sql', sql: Match.stringLikeRegexp('dedupe_key') }),
        Match.objectLike({ name: '003_loading.sql', sql: Match.stringLikeRegexp('strata_loading') }),
        Match.objectLike({ name: '004_runs.sql', sql: Match.stringLikeRegexp('strata.run_attempts') }),
        Match.objectLike({
          name: '005_current_and_quarantine.sql',
          sql: Match.stringLikeRegexp('strata.dataset_events'),
        }),
        Match.objectLike({ name: '006_catalog_and_cost.sql', sql: Match.stringLikeRegexp('catalog_sha256') }),
        Match.objectLike({ name: '008_partner_api.sql', sql: Match.stringLikeRegexp('runs_upload_key') }),
      ]),
    });
  });
});

describe('child stack, overrides', () => {
  it('child-b: NAT mode, bigger database, its own image', async () => {
    const stack = await synthEnvironment('child-b');
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::EC2::NatGateway', 1);
    t.hasResourceProperties('AWS::RDS::DBCluster', {
      ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 8, SecondsUntilAutoPause: 900 },
    });
    const def = Object.values(t.findResources('AWS::ECS::TaskDefinition'))[0]!;
    expect(JSON.stringify(def.Properties.ContainerDefinitions[0].Image)).toContain(
      'cdk-hnb659fds-container-assets',
    );
    expect(nagFindings(stack, 'error')).toEqual([]);
  });

  it('allowDestroy deletes stateful resources and says so', async () => {
    const stack = await synthEnvironment('child-a', {
      allowDestroy: true,
      database: { minAcu: 0.5, maxAcu: 2, autoPauseSeconds: 300 },
    });
    const t = Template.fromStack(stack);
    for (const b of Object.values(t.findResources('AWS::S3::Bucket')))
      expect(b.DeletionPolicy).toBe('Delete');
    t.hasResourceProperties('AWS::RDS::DBCluster', {
      DeletionProtection: false,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 2 },
    });
    const warnings = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:warning').map((m) => String(m.data)));
    expect(warnings.some((w) => w.includes('allowDestroy is set'))).toBe(true);
  });
});
