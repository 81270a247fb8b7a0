import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface EventDeliveryOptions {
  /** Retries after the first failed delivery. @default 4 */
  readonly retryAttempts?: number;
  /** How long EventBridge keeps trying before the event goes to the dead-letter queue. @default 2 hours */
  readonly maxEventAge?: Duration;
  /** What the target receives instead of the event. @default the event */
  readonly event?: events.RuleTargetInput;
}

/**
 * Where the events of one function's EventBridge rules go when they fail: an SQS queue, encrypted and
 * TLS-only, kept 14 days, and an alarm while anything is in it. Two ways in, both with the event as the
 * message body: EventBridge puts what it could not deliver (throttled, or the invoke refused, `retryAttempts`
 * times or for `maxEventAge`), and Lambda puts an accepted event whose invocations all failed (the function
 * threw or timed out, and its own retries did too) when the function names this queue as its dead-letter
 * queue (`StrataFunction`'s `deadLetterQueue`). Nothing consumes the queue, so its visible messages are the
 * events still to redrive (docs/operations.md: "Redrive a dropped trigger event").
 */
export class EventDeadLetters extends Construct {
  readonly queue: sqs.Queue;
  readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: { readonly description: string }) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.alarm = new cloudwatch.Alarm(this, 'Alarm', {
      alarmDescription: `${props.description}: events EventBridge could not deliver are waiting to be redriven`,
      metric: this.queue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** A rule target for `fn` whose undeliverable events come here. */
  lambdaTarget(fn: lambda.IFunction, options: EventDeliveryOptions = {}): targets.LambdaFunction {
    return new targets.LambdaFunction(fn, { ...this.delivery(options), event: options.event });
  }

  /** A rule target for another bus (cross-account) whose undeliverable events come here. */
  busTarget(bus: events.IEventBus): targets.EventBus {
    // EventBridge retries a bus target by its own policy (24 hours); only the dead-letter queue is settable.
    return new targets.EventBus(bus, { deadLetterQueue: this.queue });
  }

  private delivery(options: EventDeliveryOptions) {
    const retryAttempts = options.retryAttempts ?? 4;
    const maxEventAge = options.maxEventAge ?? Duration.hours(2);
    if (retryAttempts < 0 || retryAttempts > 185)
      throw new Error(`\`retryAttempts\` must be between 0 and 185, got: ${retryAttempts}.`);
    if (maxEventAge.toSeconds() < 60 || maxEventAge.toSeconds() > 86_400)
      throw new Error(
        `\`maxEventAge\` must be between 60 and 86400 seconds, got: ${maxEventAge.toSeconds()}.`,
      );
    return { deadLetterQueue: this.queue, retryAttempts, maxEventAge };
  }
}
