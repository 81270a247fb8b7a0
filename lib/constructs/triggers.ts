import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambdaEvents from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV, WEBHOOK_HOOK_KEY } from '../../runtime/aws/names.ts';
import type { CatalogDeployment } from './catalog-deployment.ts';
import { EventDeadLetters } from './event-dead-letters.ts';
import type { JobQueue } from './job-queue.ts';
import type { Network } from './network.ts';
import type { PostgisCluster } from './postgis-cluster.ts';
import { StrataFunction } from './strata-function.ts';
import type { TaskRunner } from './task-runner.ts';

/** One EventBridge schedule, made from a dataset or product in the catalog. */
export interface CatalogSchedule {
  readonly kind: 'dataset' | 'product';
  readonly name: string;
  /** Cron (5 fields, UTC) or `rate(...)`, as written in the catalog. */
  readonly expression: string;
}

export interface TriggersProps {
  readonly ingress: s3.IBucket;
  readonly queue: JobQueue;
  readonly database: PostgisCluster;
  readonly tasks: TaskRunner;
  readonly network: Network;
  readonly schedules: readonly CatalogSchedule[];
  readonly maxConcurrentTasks: number;
  readonly maxUploadBytes: number;
  readonly logRetention: logs.RetentionDays;
  /** The child's catalog: the triggers check datasets and products against it. */
  readonly catalog: CatalogDeployment;
}

/** `0 3 * * *` (catalog, 5 fields) → `cron(0 3 * * ? *)` (EventBridge, 6 fields, one of day-of-month/week is ?). */
export function eventBridgeExpression(expression: string): string {
  if (expression.startsWith('rate(')) return expression;
  const f = expression.trim().split(/\s+/);
  if (f.length !== 5)
    throw new Error(`schedule must be a 5-field cron expression or rate(...), got: "${expression}".`);
  const [minute, hour, dom, month, dow] = f as [string, string, string, string, string];
  const dayOfWeek = dow === '*' ? '?' : dow;
  const dayOfMonth = dow !== '*' && dom === '*' ? '?' : dom;
  return `cron(${minute} ${hour} ${dayOfMonth} ${month} ${dayOfWeek} *)`;
}

/**
 * What starts work: object-created events on the ingress bucket, catalog schedules, signed webhooks, the
 * dispatcher that turns queued jobs into Fargate tasks, and the reconciler that keeps run statuses true.
 * Every function only validates, records a run and sends a job, or dispatches: the heavy work is in tasks.
 */
export class Triggers extends Construct {
  readonly objectCreated: StrataFunction;
  readonly schedule: StrataFunction;
  readonly webhook: StrataFunction;
  readonly dispatcher: StrataFunction;
  readonly reconciler: StrataFunction;
  readonly deadLetter: StrataFunction;
  readonly webhookSecrets: secretsmanager.Secret;
  readonly scheduleRules: events.Rule[] = [];
  /** Per function its rules invoke: where an event that could not be delivered or handled goes, with its alarm. */
  readonly eventDeadLetters: Record<'objectCreated' | 'schedule' | 'reconciler', EventDeadLetters>;

  constructor(scope: Construct, id: string, props: TriggersProps) {
    super(scope, id);
    this.eventDeadLetters = {
      objectCreated: new EventDeadLetters(this, 'ObjectCreatedDeadLetters', {
        description: 'Strata ingress object-created events',
      }),
      schedule: new EventDeadLetters(this, 'ScheduleDeadLetters', {
        description: 'Strata catalog schedules',
      }),
      reconciler: new EventDeadLetters(this, 'ReconcilerDeadLetters', {
        description: 'Strata task-stopped events and heartbeat checks',
      }),
    };
    const dlq = this.eventDeadLetters;
    const base = {
      [ENV.jobsQueueUrl]: props.queue.queue.queueUrl,
      ...props.database.dataApiEnvironment(),
    };
    const make = (
      name: string,
      description: string,
      options: {
        env?: Record<string, string>;
        timeout?: Duration;
        readsCatalog?: boolean;
        deadLetters?: EventDeadLetters;
      } = {},
    ) => {
      const { env: extra = {}, timeout, readsCatalog = false, deadLetters } = options;
      const f = new StrataFunction(this, name, {
        entry: `lambdas/${name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase()}/handler.ts`,
        description,
        environment: { ...base, ...(readsCatalog ? props.catalog.environment() : {}), ...extra },
        logRetention: props.logRetention,
        timeout,
        deadLetterQueue: deadLetters?.queue,
      });
      props.database.grantDataApi(f.fn);
      if (readsCatalog) props.catalog.grantRead(f.fn);
      return f;
    };

    this.objectCreated = make(
      'IngressObjectCreated',
      'Ingress object created: records a queued ingest run and sends its job',
      {
        env: {
          [ENV.ingressBucket]: props.ingress.bucketName,
          [ENV.maxUploadBytes]: String(props.maxUploadBytes),
        },
        readsCatalog: true,
        deadLetters: dlq.objectCreated,
      },
    );
    props.queue.queue.grantSendMessages(this.objectCreated.fn);
    new events.Rule(this, 'ObjectCreatedRule', {
      description: 'Objects created in the Strata ingress bucket',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [props.ingress.bucketName] } },
      },
      targets: [dlq.objectCreated.lambdaTarget(this.objectCreated.fn, { retryAttempts: 4 })],
    });

    this.schedule = make(
      'Schedule',
      'A catalog schedule fired: records a queued fetch or build run and sends its job',
      { readsCatalog: true, deadLetters: dlq.schedule },
    );
    props.queue.queue.grantSendMessages(this.schedule.fn);
    for (const s of props.schedules) {
      const rule = new events.Rule(this, `Schedule-${s.kind}-${s.name}`, {
        description: `Strata schedule for ${s.kind} ${s.name}: ${s.expression}`,
        schedule: events.Schedule.expression(eventBridgeExpression(s.expression)),
        targets: [
          dlq.schedule.lambdaTarget(this.schedule.fn, {
            event: events.RuleTargetInput.fromObject({
              kind: s.kind,
              name: s.name,
              time: events.EventField.time,
            }),
            retryAttempts: 2,
            // A firing older than an hour is better redriven by hand than run late unseen.
            maxEventAge: Duration.hours(1),
          }),
        ],
      });
      this.scheduleRules.push(rule);
    }

    this.webhookSecrets = new secretsmanager.Secret(this, 'WebhookSecrets', {
      description:
        'Strata webhook secrets: a hook-key each hook derives its own secret from (HMAC-SHA256 of its name), or hook name to secret',
      generateSecretString: {
        secretStringTemplate: '{}',
        // Not one `default` for every hook: each hook's secret derives from this key, so none leaks another's.
        generateStringKey: WEBHOOK_HOOK_KEY,
        passwordLength: 48,
        excludePunctuation: true,
      },
    });
    this.webhook = make(
      'Webhook',
      'Signed webhooks (X-Hub-Signature-256): records a queued run and sends its job',
      { env: { [ENV.webhookSecretArn]: this.webhookSecrets.secretArn }, readsCatalog: true },
    );
    this.webhookSecrets.grantRead(this.webhook.fn);
    props.queue.queue.grantSendMessages(this.webhook.fn);

    const taskEnv = {
      [ENV.ecsCluster]: props.tasks.cluster.clusterArn,
      [ENV.taskDefinitions]: JSON.stringify(
        Object.fromEntries(Object.entries(props.tasks.definitions).map(([k, d]) => [k, d.taskDefinitionArn])),
      ),
      [ENV.taskSubnets]: props.network.vpc.selectSubnets(props.network.taskSubnets).subnetIds.join(','),
      [ENV.taskSecurityGroup]: props.tasks.securityGroup.securityGroupId,
      [ENV.taskAssignPublicIp]: String(props.network.assignPublicIp),
      [ENV.maxConcurrentTasks]: String(props.maxConcurrentTasks),
    };
    this.dispatcher = make(
      'Dispatcher',
      'SQS jobs → one Fargate task each (RunTask), partial batch failures',
      { env: taskEnv, timeout: Duration.seconds(60) },
    );
    props.tasks.grantRun(this.dispatcher.fn);
    // Jobs held back (the cap, no capacity) are sent again with a delay, so waiting uses up no deliveries.
    props.queue.queue.grantSendMessages(this.dispatcher.fn);
    this.dispatcher.fn.addEventSource(
      new lambdaEvents.SqsEventSource(props.queue.queue, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(5),
        reportBatchItemFailures: true,
        maxConcurrency: 2,
      }),
    );

    this.reconciler = make(
      'Reconciler',
      'Marks runs whose task died (OOM, never started, stale heartbeat) failed and retries them',
      { env: taskEnv, timeout: Duration.seconds(60), deadLetters: dlq.reconciler },
    );
    // It retries through the queue (the dispatcher starts the task), so it may count and stop tasks only.
    props.tasks.grantWatch(this.reconciler.fn);
    props.queue.queue.grantSendMessages(this.reconciler.fn);
    // Its scheduled check asks the queue whether anything is going on before it wakes the database.
    props.queue.queue.grant(this.reconciler.fn, 'sqs:GetQueueAttributes');

    this.deadLetter = make(
      'DeadLetter',
      'Jobs in the dead-letter queue: fails each run with the reason, so none stays queued for ever',
    );
    this.deadLetter.fn.addEventSource(
      new lambdaEvents.SqsEventSource(props.queue.deadLetterQueue, {
        batchSize: 10,
        reportBatchItemFailures: false,
        maxConcurrency: 2,
      }),
    );
    // Event-driven, so an idle account never wakes the database: a stopped task (out of memory, failed to
    // start, exited) is reported by ECS; the schedule only looks at the database while tasks are running.
    new events.Rule(this, 'TaskStoppedRule', {
      description: 'Strata tasks that stopped',
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: { clusterArn: [props.tasks.cluster.clusterArn], lastStatus: ['STOPPED'] },
      },
      targets: [dlq.reconciler.lambdaTarget(this.reconciler.fn, { retryAttempts: 4 })],
    });
    new events.Rule(this, 'HeartbeatRule', {
      description: 'Strata reconciler: stale heartbeats of running tasks, every 15 minutes',
      schedule: events.Schedule.rate(Duration.minutes(15)),
      // The next check comes in 15 minutes: a missed one is not worth a long retry.
      targets: [
        dlq.reconciler.lambdaTarget(this.reconciler.fn, {
          retryAttempts: 1,
          maxEventAge: Duration.minutes(15),
        }),
      ],
    });
  }
}
