import { Annotations, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC } from '../../runtime/aws/metrics.ts';
import { METRIC_DIMENSIONS, METRICS_NAMESPACE, productMetricDimensions } from '../../runtime/aws/names.ts';
import { schedulePeriodSeconds } from '../../runtime/catalog/schedule-period.ts';

export interface ObservabilityProps {
  /** Alarms already made by other constructs (dead letters of jobs and of trigger events). */
  readonly alarms: readonly cloudwatch.Alarm[];
  /** The tasks' log group: their metrics are taken from it (see `taskMetricFilters`). */
  readonly taskLogGroup: logs.ILogGroup;
  /** Functions whose errors raise an alarm. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  readonly alarmEmail?: string;
  readonly environmentName: string;
  readonly jobsQueue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /** The ECS cluster's name (Container Insights metrics) and the Aurora cluster's identifier. */
  readonly ecsClusterName: string;
  readonly databaseClusterIdentifier: string;
  /** Scheduled products, each watched for staleness. */
  readonly scheduledProducts: readonly { readonly name: string; readonly expression: string }[];
  /** Added to a schedule's longest gap before its product counts as stale. @default 2 hours */
  readonly staleGrace?: Duration;
}

/** CloudWatch's limits on an alarm's window: a day for periods under an hour, seven days otherwise. */
const WINDOW_LIMIT = (periodSeconds: number) => (periodSeconds < 3600 ? 86_400 : 604_800);

/**
 * The period and number of periods of an alarm that watches the last `windowSeconds` (rounded up to a
 * period), or undefined when the window is longer than any CloudWatch alarm can watch.
 */
export function alarmWindow(windowSeconds: number): { periodSeconds: number; periods: number } | undefined {
  for (const periodSeconds of [300, 3600, 86_400]) {
    const periods = Math.ceil(windowSeconds / periodSeconds);
    if (periods * periodSeconds <= WINDOW_LIMIT(periodSeconds)) return { periodSeconds, periods };
  }
  return undefined;
}

/**
 * The tasks' metrics, taken from their logs. CloudWatch extracts embedded-metric-format records by itself only
 * from Lambda's logs; a Fargate task's stdout reaches its log group through the awslogs driver, which does not
 * mark them as EMF, so without a CloudWatch agent beside each task its RunsSucceeded, RunsFailed and
 * ProductPublished (the stale alarms' metric) would never exist. Metric filters cost nothing and need no
 * sidecar: each reads the record Powertools writes with the extra dimension (`kind`, or `product`) — one per
 * run end or publish, so nothing is counted twice — and publishes the metric with exactly the dimensions the
 * alarms and the dashboard watch.
 */
export function taskMetricFilters(scope: Construct, logGroup: logs.ILogGroup): void {
  const filter = (id: string, name: string, by: 'kind' | 'product', dimensions: Record<string, string>) =>
    new logs.MetricFilter(scope, id, {
      logGroup,
      metricNamespace: METRICS_NAMESPACE,
      metricName: name,
      // The count is a number (a numeric test); the dimension a string that exists.
      filterPattern: logs.FilterPattern.all(
        logs.FilterPattern.numberValue(`$.${name}`, '>=', 0),
        logs.FilterPattern.exists(`$.${by}`),
      ),
      metricValue: `$.${name}`,
      dimensions,
      unit: cloudwatch.Unit.COUNT,
    });
  const service = Object.fromEntries(Object.keys(METRIC_DIMENSIONS).map((k) => [k, `$.${k}`]));
  for (const name of [METRIC.runsSucceeded, METRIC.runsFailed, METRIC.runsInterrupted])
    filter(`TaskMetric${name}`, name, 'kind', service);
  filter(`TaskMetric${METRIC.productPublished}`, METRIC.productPublished, 'product', {
    ...Object.fromEntries(Object.keys(productMetricDimensions('')).map((k) => [k, `$.${k}`])),
  });
}

/**
 * Where operators look, one per child: an alarm topic (email when configured); alarms on failed runs, failed
 * tasks, function errors and stale scheduled products; a dashboard with runs by status, task seconds, queue
 * and dead-letter depth, Aurora capacity and wake-ups. Strata's own metrics carry exactly the dimensions
 * Powertools emits (`service`, and `product` for ProductPublished): CloudWatch matches metrics by their whole
 * set of dimensions, so an alarm on any other set would never see a datapoint.
 */
export class Observability extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly staleAlarms: Record<string, cloudwatch.Alarm> = {};

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const grace = props.staleGrace ?? Duration.hours(2);
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `Strata alarms (${props.environmentName})`,
      masterKey: kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    taskMetricFilters(this, props.taskLogGroup);
    const metric = (name: string, label?: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { ...METRIC_DIMENSIONS },
        statistic: 'Sum',
        period: Duration.minutes(5),
        label,
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

    for (const p of props.scheduledProducts) {
      const windowSeconds = schedulePeriodSeconds(p.expression) + grace.toSeconds();
      const window = alarmWindow(windowSeconds);
      const m = (periodSeconds: number) =>
        new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName: 'ProductPublished',
          dimensionsMap: { ...productMetricDimensions(p.name) },
          statistic: 'Sum',
          period: Duration.seconds(periodSeconds),
        });
      if (!window) {
        Annotations.of(this).addWarningV2(
          'strata:stale-window',
          `product ${p.name}: its schedule (${p.expression}) plus the grace is over 7 days, longer than a CloudWatch alarm can watch; no stale alarm`,
        );
        continue;
      }
      // No version in the whole window, and no data at all, both count: a product that stopped publishing
      // emits nothing, so missing data must breach.
      this.staleAlarms[p.name] = new cloudwatch.Alarm(this, `Stale-${p.name}`, {
        alarmDescription: `Strata product ${p.name} has published no new version for its schedule (${p.expression}) plus ${grace.toHumanString()}`,
        metric: m(window.periodSeconds),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: window.periods,
        datapointsToAlarm: window.periods,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
      this.alarms.push(this.staleAlarms[p.name]!);
    }
    for (const a of [...this.alarms, ...props.alarms]) a.addAlarmAction(new actions.SnsAction(this.topic));

    const five = Duration.minutes(5);
    const taskCount = new cloudwatch.Metric({
      namespace: 'ECS/ContainerInsights',
      metricName: 'TaskCount',
      dimensionsMap: { ClusterName: props.ecsClusterName },
      statistic: 'Average',
      period: five,
    });
    const acu = new cloudwatch.Metric({
      namespace: 'AWS/RDS',
      metricName: 'ServerlessDatabaseCapacity',
      dimensionsMap: { DBClusterIdentifier: props.databaseClusterIdentifier },
      statistic: 'Maximum',
      period: five,
      label: 'ACU (maximum)',
    });
    const queueDepth = (q: sqs.IQueue, label: string) =>
      q.metricApproximateNumberOfMessagesVisible({ period: five, statistic: 'Maximum', label });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(7),
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Runs by status',
            left: [
              metric('RunsQueued', 'queued'),
              metric('RunsSucceeded', 'succeeded'),
              metric('RunsFailed', 'failed'),
              metric('RunsInterrupted', 'interrupted'),
            ],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Tasks',
            left: [metric('TasksStarted', 'started'), metric('TasksFailed', 'failed')],
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Task seconds (running tasks × seconds, Container Insights)',
            left: [
              new cloudwatch.MathExpression({
                expression: 'tasks * PERIOD(tasks)',
                usingMetrics: { tasks: taskCount },
                label: 'task seconds',
                period: five,
              }),
            ],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Jobs queue depth',
            left: [
              queueDepth(props.jobsQueue, 'waiting'),
              props.jobsQueue.metricApproximateNumberOfMessagesNotVisible({
                period: five,
                statistic: 'Maximum',
                label: 'being dispatched',
              }),
            ],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Dead-letter queue depth',
            left: [queueDepth(props.deadLetterQueue, 'dead letters')],
            width: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Aurora capacity (ACU)', left: [acu], width: 12 }),
          new cloudwatch.GraphWidget({
            title: 'Aurora wake-ups (paused, then awake)',
            left: [
              new cloudwatch.MathExpression({
                expression: 'IF(DIFF(IF(FILL(acu, 0) > 0, 1, 0)) > 0, 1, 0)',
                usingMetrics: { acu },
                label: 'wake-ups',
                period: five,
              }),
            ],
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Versions published, by product',
            left: [
              new cloudwatch.MathExpression({
                expression: `SEARCH('{${METRICS_NAMESPACE},${Object.keys(productMetricDimensions('')).join(',')}} MetricName="ProductPublished"', 'Sum', 3600)`,
                usingMetrics: {},
                label: '',
                period: Duration.hours(1),
              }),
            ],
            width: 24,
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
