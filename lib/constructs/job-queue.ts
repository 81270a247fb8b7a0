import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface JobQueueProps {
  /** How long the dispatcher may take over one batch; the queue hides a message six times that. @default 60 s */
  readonly consumerTimeout?: Duration;
  /** Deliveries before a job goes to the dead-letter queue. @default 5 */
  readonly maxReceiveCount?: number;
}

/**
 * The jobs queue and its dead-letter queue, encrypted with SQS-managed keys (no KMS key to pay for) and
 * TLS-only. Visibility is six times the dispatcher's timeout, as AWS advises for Lambda event sources.
 */
export class JobQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly dlqDepthAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: JobQueueProps = {}) {
    super(scope, id);
    const consumerTimeout = props.consumerTimeout ?? Duration.seconds(60);
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    if (maxReceiveCount < 1 || maxReceiveCount > 1000)
      throw new Error(`\`maxReceiveCount\` must be between 1 and 1000, got: ${maxReceiveCount}.`);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(consumerTimeout.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });
    this.dlqDepthAlarm = new cloudwatch.Alarm(this, 'DeadLetterDepth', {
      alarmDescription: 'Strata jobs failed to dispatch and are in the dead-letter queue',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
