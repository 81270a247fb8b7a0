import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface JobQueueProps {
  /** How long the dispatcher may take over one batch; the queue hides a message six times that. @default 60 s */
  readonly consumerTimeout?: Duration;
  /** Deliveries before a job goes to the dead-letter queue. @default 5 */
  readonly maxReceiveCount?: number;
  /** How long the dead-letter consumer may take over one batch; its queue hides a message six times that. @default 30 s */
  readonly deadLetterConsumerTimeout?: Duration;
}

/**
 * The jobs queue and its dead-letter queue, encrypted with SQS-managed keys (no KMS key to pay for) and
 * TLS-only. Visibility is six times the dispatcher's timeout, as AWS advises for Lambda event sources.
 */
export class JobQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: JobQueueProps = {}) {
    super(scope, id);
    const consumerTimeout = props.consumerTimeout ?? Duration.seconds(60);
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    const deadLetterConsumerTimeout = props.deadLetterConsumerTimeout ?? Duration.seconds(30);
    if (maxReceiveCount < 1 || maxReceiveCount > 1000)
      throw new Error(`\`maxReceiveCount\` must be between 1 and 1000, got: ${maxReceiveCount}.`);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // The DeadLetter function consumes it: a batch it is still failing must not be delivered twice at once.
      visibilityTimeout: Duration.seconds(deadLetterConsumerTimeout.toSeconds() * 6),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(consumerTimeout.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });
    // The DeadLetter function takes each dead letter within seconds, so the queue's visible messages are
    // almost always 0 and an alarm on them would never fire. Every message moved here is received by that
    // function, so receives count dead letters. (NumberOfMessagesSent would not: SQS does not count a message
    // a redrive policy moves to the dead-letter queue as sent.) A consumer that fails leaves them visible,
    // and its Errors alarm fires.
    this.deadLetterAlarm = new cloudwatch.Alarm(this, 'DeadLetters', {
      alarmDescription: 'Strata jobs failed to dispatch and reached the dead-letter queue',
      metric: this.deadLetterQueue.metricNumberOfMessagesReceived({
        period: Duration.minutes(5),
        statistic: 'Sum',
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
