import { EventBridgeNotifications } from '../adapters/aws/eventbridge-notifications.ts';
import { ENV } from './names.ts';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

/** Publish notifications through EventBridge, when the stack set them up (else the outbox, undelivered). */
export function awsNotifications(): EventBridgeNotifications | undefined {
  const eventBus = process.env[ENV.notificationsBus];
  if (!eventBus) return undefined;
  return new EventBridgeNotifications({
    eventBus,
    namePrefix: env(ENV.notificationsPrefix),
    invokeRoleArn: env(ENV.notificationsRoleArn),
    deadLetterQueueArn: env(ENV.notificationsDlqArn),
  });
}
