import type { KeyObject } from 'node:crypto';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { FEDERATION_EVENT, type Federation, type SignedSummary } from '../../ports/federation.ts';
import { signingKey } from '../../ports/federation-keys.ts';

export interface EventBridgeFederationConfig {
  readonly child: string;
  /** The Secrets Manager secret the child's signing key derives from (generated in the account at deploy). */
  readonly keySecretArn: string;
  /** The child's own bus (its default bus): a rule there forwards Strata's summaries to the core's bus. */
  readonly eventBus: string;
}

/**
 * A child on AWS: the summary goes as a `ProductPublished` event on the child's own bus, and the child stack's
 * rule forwards it to the core account's bus, whose policy admits exactly the configured child accounts.
 * No credentials cross accounts; EventBridge stamps each event with the account it came from.
 */
export class EventBridgeFederation implements Federation {
  readonly child: string;
  readonly destination: string;
  private key: KeyObject | undefined;

  constructor(
    private readonly config: EventBridgeFederationConfig,
    private readonly events: EventBridgeClient = new EventBridgeClient({}),
    private readonly secrets: SecretsManagerClient = new SecretsManagerClient({}),
  ) {
    this.child = config.child;
    this.destination = `eventbridge:${config.eventBus}`;
  }

  async signingKey(): Promise<KeyObject> {
    if (!this.key) {
      const out = await this.secrets.send(new GetSecretValueCommand({ SecretId: this.config.keySecretArn }));
      this.key = signingKey(out.SecretString ?? '');
    }
    return this.key;
  }

  async send(signed: SignedSummary): Promise<void> {
    const out = await this.events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.config.eventBus,
            Source: FEDERATION_EVENT.source,
            DetailType: FEDERATION_EVENT.detailType,
            Detail: JSON.stringify(signed),
          },
        ],
      }),
    );
    const failed = out.Entries?.find((e) => e.ErrorCode);
    if ((out.FailedEntryCount ?? 0) > 0 || failed)
      throw new Error(
        `EventBridge refused the summary: ${failed?.ErrorCode ?? 'unknown'} ${failed?.ErrorMessage ?? ''}`.trim(),
      );
  }
}
