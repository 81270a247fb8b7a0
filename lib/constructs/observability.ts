import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../../runtime/aws/names.ts';

export interface ObservabilityProps {
  /** Alarms already made by other constructs (the DLQ depth alarm). */
  readonly alarms: readonly cloudwatch.Alarm[];
  /** Functions whose errors raise an alarm. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  readonly alarmEmail?: string;
  readonly environmentName: string;
}

/**
 * Where operators look: an alarm topic (email when configured), alarms on failed runs, failed tasks and
 * function errors, and a dashboard. Alarms cost a few cents a month each; they are the only fixed cost here.
 */
export class Observability extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `Strata alarms (${props.environmentName})`,
      masterKey: kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    // The dimensions the code emits with (Powertools adds `service`): a metric with other dimensions is
    // another metric to CloudWatch, and an alarm on it would never fire.
    const metric = (name: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { service: METRICS_SERVICE },
        statistic: 'Sum',
        period: Duration.minutes(5),
      });
    const alarm = (id: string, description: string, m: cloudwatch.IMetric) =>
      new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric: m,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.alarms.push(alarm('FailedRuns', 'Strata runs failed', metric('RunsFailed')));
    this.alarms.push(
      alarm(
        'FailedTasks',
        'Strata tasks stopped abnormally (out of memory, failed to start)',
        metric('TasksFailed'),
      ),
    );
    this.alarms.push(
      alarm(
        'UnreadableJobs',
        'Messages that are not Strata jobs reached the dead-letter queue (and were dropped)',
        metric('JobsUnreadable'),
      ),
    );
    for (const [name, fn] of Object.entries(props.functions))
      this.alarms.push(
        alarm(
          `${name}Errors`,
          `Strata ${name} function errors`,
          fn.metricErrors({ period: Duration.minutes(5) }),
        ),
      );
    for (const a of [...this.alarms, ...props.alarms]) a.addAlarmAction(new actions.SnsAction(this.topic));

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(7),
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Runs',
            left: [
              metric('RunsQueued'),
              metric('RunsSucceeded'),
              metric('RunsFailed'),
              metric('RunsInterrupted'),
            ],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Tasks',
            left: [metric('TasksStarted'), metric('TasksFailed')],
            width: 12,
          }),
        ],
        [
          new cloudwatch.AlarmStatusWidget({
            title: 'Alarms',
            alarms: [...this.alarms, ...props.alarms],
            width: 24,
          }),
        ],
      ],
    });
  }
}
