import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaEvents from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../runtime/aws/names.ts';

export interface PublishNotificationsProps {
  /**
   * What each subscription's connection, API destination and rule are named with (then its id), so the
   * grants below cover exactly those: letters, digits, `-`, at most 30 characters.
   */
  readonly namePrefix: string;
}

/**
 * Partners' publish notifications on AWS, delivered by EventBridge API destinations: a bus the publishing
 * task puts signed notifications on, the role EventBridge invokes the destinations with, and the dead-letter
 * queue for a notification EventBridge gave up on, whose consumer (`consumeDeadLetters`) counts each
 * towards disabling its subscription, with an alarm on what arrives there. Each subscription's connection, API
 * destination, rule and target are made at runtime by the partner-API function when a partner subscribes
 * (runtime/adapters/aws/eventbridge-notifications.ts), so the grants here are by name prefix.
 */
export class PublishNotifications extends Construct {
  readonly bus: events.EventBus;
  readonly invokeRole: iam.Role;
  readonly deadLetterQueue: sqs.Queue;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  readonly namePrefix: string;

  constructor(scope: Construct, id: string, props: PublishNotificationsProps) {
    super(scope, id);
    if (!/^[A-Za-z0-9-]{1,30}$/.test(props.namePrefix))
      throw new Error(`\`namePrefix\` must be 1 to 30 letters, digits or -, got: ${props.namePrefix}.`);
    this.namePrefix = props.namePrefix;
    this.bus = new events.EventBus(this, 'Bus', {
      description: "Strata: signed publish notifications, one rule per partner's subscription",
    });
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Six times its consumer's 30 s, as for the jobs' dead-letter queue.
      visibilityTimeout: Duration.seconds(180),
    });
    // Its consumer takes each message within seconds, so receives, not visible messages, count arrivals.
    this.deadLetterAlarm = new cloudwatch.Alarm(this, 'DeadLetters', {
      alarmDescription:
        "Publish notifications EventBridge could not deliver to a partner's callback (counted towards disabling its subscription)",
      metric: this.deadLetterQueue.metricNumberOfMessagesReceived({
        period: Duration.minutes(5),
        statistic: 'Sum',
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.invokeRole = new iam.Role(this, 'InvokeRole', {
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com'),
      description: "EventBridge invokes the partners' API destinations of publish notifications",
    });
    this.invokeRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['events:InvokeApiDestination'],
        resources: [this.arn('api-destination')],
      }),
    );
    // The subscriptions' rules are made at runtime, so the queue admits them by name rather than by target.
    this.deadLetterQueue.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.queueArn],
        conditions: { ArnLike: { 'aws:SourceArn': this.ruleArn() } },
      }),
    );
  }

  private arn(kind: 'api-destination' | 'connection'): string {
    const s = Stack.of(this);
    return `arn:${s.partition}:events:${s.region}:${s.account}:${kind}/${this.namePrefix}*`;
  }

  private ruleArn(): string {
    const s = Stack.of(this);
    return `arn:${s.partition}:events:${s.region}:${s.account}:rule/${this.bus.eventBusName}/${this.namePrefix}*`;
  }

  /** What the task and the partner-API function read to find all of the above. */
  environment(): Record<string, string> {
    return {
      [ENV.notificationsBus]: this.bus.eventBusName,
      [ENV.notificationsPrefix]: this.namePrefix,
      [ENV.notificationsRoleArn]: this.invokeRole.roleArn,
      [ENV.notificationsDlqArn]: this.deadLetterQueue.queueArn,
    };
  }

  /** `fn` (the dead-letter function) takes what EventBridge gave up on, and tells it apart by the queue's ARN. */
  consumeDeadLetters(fn: lambda.Function): void {
    fn.addEnvironment(ENV.notificationsDlqArn, this.deadLetterQueue.queueArn);
    fn.addEventSource(
      new lambdaEvents.SqsEventSource(this.deadLetterQueue, { batchSize: 10, maxConcurrency: 2 }),
    );
  }

  /** The publishing task: putting notifications on the bus. */
  grantPut(grantee: iam.IGrantable): void {
    this.bus.grantPutEventsTo(grantee);
  }

  /** The partner-API function: making and taking down a subscription's connection, destination and rule. */
  grantManage(grantee: iam.IGrantable): void {
    const s = Stack.of(this);
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['events:CreateConnection', 'events:DeleteConnection', 'events:DescribeConnection'],
      resourceArns: [this.arn('connection')],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'events:CreateApiDestination',
        'events:DeleteApiDestination',
        'events:DescribeApiDestination',
      ],
      resourceArns: [this.arn('api-destination')],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['events:PutRule', 'events:DeleteRule', 'events:PutTargets', 'events:RemoveTargets'],
      resourceArns: [this.ruleArn()],
    });
    this.invokeRole.grantPassRole(grantee.grantPrincipal);
    // A connection keeps its authorization in a secret EventBridge makes in the caller's name.
    iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'secretsmanager:CreateSecret',
        'secretsmanager:UpdateSecret',
        'secretsmanager:DeleteSecret',
        'secretsmanager:DescribeSecret',
        'secretsmanager:PutSecretValue',
      ],
      resourceArns: [
        `arn:${s.partition}:secretsmanager:${s.region}:${s.account}:secret:events!connection/${this.namePrefix}*`,
      ],
    });
  }
}
