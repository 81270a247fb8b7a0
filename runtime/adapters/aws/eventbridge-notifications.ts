import {
  CreateApiDestinationCommand,
  CreateConnectionCommand,
  DeleteApiDestinationCommand,
  DeleteConnectionCommand,
  DeleteRuleCommand,
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  type NotificationSender,
  type OutgoingNotification,
  type SendOutcome,
  type SubscriptionTarget,
  signNotification,
} from '../../ports/notifications.ts';

/** The source and detail type of the events a publishing task puts, one per notification. */
export const NOTIFICATION_EVENT = {
  source: 'strata.partner-notifications',
  detailType: 'Publish notification',
} as const;

export interface EventBridgeNotificationsConfig {
  /** The bus the tasks put notifications on, and the subscriptions' rules listen to. */
  readonly eventBus: string;
  /** What every resource made for a subscription is named with, so IAM can grant exactly those. */
  readonly namePrefix: string;
  /** The role EventBridge assumes to invoke the API destinations. */
  readonly invokeRoleArn: string;
  /** The queue a notification goes to once EventBridge has given up on it. */
  readonly deadLetterQueueArn: string;
  /** How long EventBridge keeps trying one notification. @default 86400 (its maximum, a day) */
  readonly maximumEventAgeSeconds?: number;
  /** @default 185 (EventBridge's maximum) */
  readonly maximumRetryAttempts?: number;
}

/** A notification on the bus: the rule picks it by subscription; the target maps the rest to the request. */
export interface NotificationDetail {
  readonly subscription: string;
  readonly webhookId: string;
  readonly webhookTimestamp: string;
  readonly webhookSignature: string;
  /** The body, as an object: the target sends `$.detail.body`, the JSON that was signed. */
  readonly body: unknown;
}

const isGone = (e: unknown) => (e as { name?: string }).name === 'ResourceNotFoundException';

/**
 * Publish notifications delivered by EventBridge: each subscription is a connection (EventBridge requires one;
 * its API key header only names the subscription, the signature is what a partner checks), an API
 * destination to the callback URL, and a rule on the notifications bus whose target sends the notification
 * with its signed headers, with EventBridge's retries and dead-letter queue. API destinations cannot compute
 * a signature per message, so the task signs when it puts the event.
 */
export class EventBridgeNotifications implements NotificationSender {
  readonly delivers = 'eventbridge' as const;

  constructor(
    private readonly config: EventBridgeNotificationsConfig,
    private readonly events: EventBridgeClient = new EventBridgeClient({}),
  ) {}

  private name(subscriptionId: string): string {
    return `${this.config.namePrefix}${subscriptionId}`;
  }

  async provision(sub: SubscriptionTarget): Promise<void> {
    const name = this.name(sub.id);
    const connection = await this.events.send(
      new CreateConnectionCommand({
        Name: name,
        Description: `Strata notifications to partner ${sub.partner}`,
        AuthorizationType: 'API_KEY',
        AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: 'strata-subscription', ApiKeyValue: sub.id } },
      }),
    );
    const destination = await this.events.send(
      new CreateApiDestinationCommand({
        Name: name,
        ConnectionArn: connection.ConnectionArn,
        InvocationEndpoint: sub.url,
        HttpMethod: 'POST',
        InvocationRateLimitPerSecond: 10,
      }),
    );
    await this.events.send(
      new PutRuleCommand({
        Name: name,
        EventBusName: this.config.eventBus,
        State: 'ENABLED',
        Description: `Strata notifications for subscription ${sub.id} (partner ${sub.partner})`,
        EventPattern: JSON.stringify({
          source: [NOTIFICATION_EVENT.source],
          'detail-type': [NOTIFICATION_EVENT.detailType],
          detail: { subscription: [sub.id] },
        }),
      }),
    );
    await this.putTarget(name, destination.ApiDestinationArn as string);
  }

  private async putTarget(name: string, destinationArn: string): Promise<void> {
    const out = await this.events.send(
      new PutTargetsCommand({
        Rule: name,
        EventBusName: this.config.eventBus,
        Targets: [
          {
            Id: 'partner',
            Arn: destinationArn,
            RoleArn: this.config.invokeRoleArn,
            InputPath: '$.detail.body',
            HttpParameters: {
              HeaderParameters: {
                'webhook-id': '$.detail.webhookId',
                'webhook-timestamp': '$.detail.webhookTimestamp',
                'webhook-signature': '$.detail.webhookSignature',
              },
            },
            RetryPolicy: {
              MaximumEventAgeInSeconds: this.config.maximumEventAgeSeconds ?? 86_400,
              MaximumRetryAttempts: this.config.maximumRetryAttempts ?? 185,
            },
            DeadLetterConfig: { Arn: this.config.deadLetterQueueArn },
          },
        ],
      }),
    );
    if ((out.FailedEntryCount ?? 0) > 0)
      throw new Error(
        `EventBridge refused the target of ${name}: ${out.FailedEntries?.[0]?.ErrorMessage ?? ''}`,
      );
  }

  async retire(subscriptionId: string): Promise<void> {
    const name = this.name(subscriptionId);
    const steps = [
      () =>
        this.events.send(
          new RemoveTargetsCommand({ Rule: name, EventBusName: this.config.eventBus, Ids: ['partner'] }),
        ),
      () => this.events.send(new DeleteRuleCommand({ Name: name, EventBusName: this.config.eventBus })),
      () => this.events.send(new DeleteApiDestinationCommand({ Name: name })),
      () => this.events.send(new DeleteConnectionCommand({ Name: name })),
    ];
    for (const step of steps)
      await step().catch((e: unknown) => {
        if (!isGone(e)) throw e;
      });
  }

  /** Signs each notification now and puts it on the bus, ten to a call (PutEvents' most). */
  async send(notifications: readonly OutgoingNotification[]): Promise<SendOutcome[]> {
    const outcomes: SendOutcome[] = [];
    for (let i = 0; i < notifications.length; i += 10) {
      const batch = notifications.slice(i, i + 10);
      const entries: PutEventsRequestEntry[] = batch.map((n) => {
        const h = signNotification(n.secret, n.id, new Date(), n.body);
        const detail: NotificationDetail = {
          subscription: n.subscription.id,
          webhookId: h['webhook-id'],
          webhookTimestamp: h['webhook-timestamp'],
          webhookSignature: h['webhook-signature'],
          body: JSON.parse(n.body),
        };
        return {
          EventBusName: this.config.eventBus,
          Source: NOTIFICATION_EVENT.source,
          DetailType: NOTIFICATION_EVENT.detailType,
          Detail: JSON.stringify(detail),
        };
      });
      try {
        const out = await this.events.send(new PutEventsCommand({ Entries: entries }));
        batch.forEach((n, j) => {
          const e = out.Entries?.[j];
          outcomes.push(
            e?.EventId
              ? { id: n.id, outcome: 'handed-off', detail: `event ${e.EventId}` }
              : {
                  id: n.id,
                  outcome: 'failed',
                  error: `${e?.ErrorCode ?? 'refused'} ${e?.ErrorMessage ?? ''}`.trim(),
                },
          );
        });
      } catch (e) {
        for (const n of batch) outcomes.push({ id: n.id, outcome: 'failed', error: (e as Error).message });
      }
    }
    return outcomes;
  }
}
