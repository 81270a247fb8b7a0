import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssetHashType, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { ENV, FEDERATION_BUS_NAME } from '../../runtime/aws/names.ts';
import { FEDERATION_EVENT } from '../../runtime/ports/federation.ts';
import { EventDeadLetters } from './event-dead-letters.ts';
import { StrataFunction } from './strata-function.ts';

export interface FederatedChild {
  readonly name: string;
  readonly account: string;
  /** base64 SPKI DER of its Ed25519 key; until it is set, the child's summaries are refused. */
  readonly publicKey?: string;
}

export interface FederationCoreProps {
  readonly children: readonly FederatedChild[];
  readonly logRetention: logs.RetentionDays;
  readonly allowDestroy?: boolean;
}

/**
 * The core's side of the federation: an event bus its children's accounts (exactly those configured, never a
 * wildcard) may put `ProductPublished` events on; an intake function that takes a summary only if it
 * verifies with its child's public key and comes from its child's account, and logs and records any other;
 * a freshness table (DynamoDB on demand: nothing to pay at rest but a few KB); and a small status API on a
 * function URL with IAM auth, which `strata core status` calls.
 */
export class FederationCore extends Construct {
  readonly bus: events.EventBus;
  readonly table: dynamodb.Table;
  readonly intake: StrataFunction;
  readonly status: StrataFunction;
  readonly statusUrl: lambda.FunctionUrl;
  /** Summaries the intake could not take (it threw, or was throttled), kept to redrive, with an alarm. */
  readonly intakeDeadLetters: EventDeadLetters;

  constructor(scope: Construct, id: string, props: FederationCoreProps) {
    super(scope, id);
    for (const c of props.children)
      if (!/^\d{12}$/.test(c.account))
        throw new Error(`\`children\` must hold 12-digit account ids, got: ${c.account} (${c.name}).`);
    this.bus = new events.EventBus(this, 'Bus', {
      eventBusName: FEDERATION_BUS_NAME,
      description: "Strata federation: children's signed publish summaries",
    });
    for (const c of props.children)
      this.bus.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: `Child${c.name.replace(/[^A-Za-z0-9]/g, '')}${c.account}`,
          principals: [new iam.AccountPrincipal(c.account)],
          actions: ['events:PutEvents'],
          resources: [this.bus.eventBusArn],
          conditions: {
            StringEquals: {
              'events:source': FEDERATION_EVENT.source,
              'events:detail-type': FEDERATION_EVENT.detailType,
            },
          },
        }),
      );

    this.table = new dynamodb.Table(this, 'Freshness', {
      partitionKey: { name: 'child', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'item', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Every row is rebuilt by the child's next summary, so the table is kept but not worth backing up.
      removalPolicy: props.allowDestroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });

    // The children as an S3 asset, not a variable: Lambda's 4 KB of variables hold about 30 children.
    const childrenJson = JSON.stringify(props.children);
    const childrenSha256 = createHash('sha256').update(childrenJson).digest('hex');
    const childrenFile = join(mkdtempSync(join(tmpdir(), 'strata-core-children-')), 'children.json');
    writeFileSync(childrenFile, childrenJson);
    const childrenAsset = new s3assets.Asset(this, 'Children', {
      path: childrenFile,
      assetHash: childrenSha256,
      assetHashType: AssetHashType.CUSTOM,
    });
    const environment = {
      [ENV.coreChildrenBucket]: childrenAsset.s3BucketName,
      [ENV.coreChildrenKey]: childrenAsset.s3ObjectKey,
      [ENV.coreChildrenSha256]: childrenSha256,
      [ENV.freshnessTable]: this.table.tableName,
    };
    const readChildren = new iam.PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [childrenAsset.bucket.arnForObjects(childrenAsset.s3ObjectKey)],
    });
    this.intakeDeadLetters = new EventDeadLetters(this, 'IntakeDeadLetters', {
      description: 'Strata federation intake',
    });
    this.intake = new StrataFunction(this, 'Intake', {
      deadLetterQueue: this.intakeDeadLetters.queue,
      entry: 'lambdas/federation-intake/handler.ts',
      description: "Federation intake: verifies a child's signed summary and records its freshness",
      environment,
      logRetention: props.logRetention,
    });
    this.table.grantWriteData(this.intake.fn);
    this.intake.fn.addToRolePolicy(readChildren);
    new events.Rule(this, 'IntakeRule', {
      description: "Strata children's ProductPublished summaries",
      eventBus: this.bus,
      eventPattern: { source: [FEDERATION_EVENT.source], detailType: [FEDERATION_EVENT.detailType] },
      targets: [this.intakeDeadLetters.lambdaTarget(this.intake.fn, { retryAttempts: 4 })],
    });

    this.status = new StrataFunction(this, 'Status', {
      entry: 'lambdas/core-status/handler.ts',
      description: 'Federation status: what each child publishes, how fresh it is, what failed',
      environment,
      logRetention: props.logRetention,
    });
    this.table.grantReadData(this.status.fn);
    this.status.fn.addToRolePolicy(readChildren);
    this.statusUrl = this.status.fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
  }
}
