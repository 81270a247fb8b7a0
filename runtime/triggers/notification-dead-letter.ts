import { z } from 'zod';
import { recordDeadLettered } from '../partners/subscriptions.ts';
import type { Queryable } from '../ports/database.ts';
import type { DispatchLog } from './dispatch.ts';

/** What EventBridge puts in a target's dead-letter queue: the event, and why it gave up in the attributes. */
export interface DeadLetteredEvent {
  readonly id: string;
  readonly body: string;
  /** EventBridge's `ERROR_CODE` and `ERROR_MESSAGE` message attributes, when present. */
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

const NotificationEvent = z.object({
  detail: z.object({ subscription: z.string(), webhookId: z.string().regex(/^msg_[0-9a-f]+$/) }),
});

/**
 * Publish notifications EventBridge could not deliver (after its retries, or refused outright): each is
 * recorded as failed and counts towards disabling its subscription, as a notification `strata serve` gave
 * up on does. Returns the notifications counted; one that is not a notification is logged and dropped.
 */
export async function onNotificationDeadLetters(
  messages: readonly DeadLetteredEvent[],
  deps: { db: Queryable; log: DispatchLog; now?: () => Date },
): Promise<string[]> {
  const counted: string[] = [];
  for (const m of messages) {
    let event: z.infer<typeof NotificationEvent>;
    try {
      event = NotificationEvent.parse(JSON.parse(m.body));
    } catch (e) {
      deps.log.warn(
        'a message that is no notification reached the notifications dead-letter queue; dropped',
        {
          messageId: m.id,
          error: (e as Error).message.slice(0, 300),
        },
      );
      continue;
    }
    const error = `EventBridge gave up: ${[m.errorCode, m.errorMessage].filter(Boolean).join(' ') || 'no reason given'}`;
    const id = event.detail.webhookId;
    if (
      await recordDeadLettered(deps.db, { notificationId: id, at: (deps.now ?? (() => new Date()))(), error })
    )
      counted.push(id);
  }
  return counted;
}
