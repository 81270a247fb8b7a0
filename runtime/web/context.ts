import type { VersionRow } from '../archive/archive.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import type { CallbackRules } from '../partners/callback-url.ts';
import type { Scopes } from '../partners/scopes.ts';
import type { Queryable } from '../ports/database.ts';
import type { JobQueue } from '../ports/job-queue.ts';
import type { NotificationSender } from '../ports/notifications.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { PartnerDirectory } from '../ports/partner-directory.ts';
import type { NonceStore, RateLimiter } from '../ports/request-guards.ts';
import type { RunRegistry } from '../runs/registry.ts';
import type { WebhookLimits, WebhookSecrets } from '../triggers/webhook.ts';
import type { Door } from './door.ts';
import type { UrlSigner } from './urls.ts';

/** Routes only `strata serve` has: the same webhooks as the webhook function, and operators' reads on localhost. */
export interface LocalRoutes {
  /** Hook name → its HMAC secrets (`default` for any hook), as STRATA_WEBHOOK_SECRETS holds them. */
  readonly webhookSecrets: WebhookSecrets;
  readonly webhookLimits?: Partial<WebhookLimits>;
  /**
   * The operators' routes answer without credentials: `strata serve` listens on 127.0.0.1 only, and whoever
   * can reach it there can read the database anyway.
   */
  readonly operatorsOnLoopback: boolean;
  /** A dataset's registered versions from the database this process holds (for the command line's reads). */
  readonly datasetVersions?: (dataset: string) => Promise<readonly VersionRow[]>;
}

/**
 * The organisation's OpenID Connect provider, for the partner portal's sign-in (a Cognito user pool or any
 * issuer): which partner a person signs in for is the value of one claim of their ID token.
 */
export interface PortalSignIn {
  /** The issuer's URL; its discovery document is read from `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  readonly clientId: string;
  /** Absent for a public client (PKCE alone). */
  readonly clientSecret?: string;
  /** The ID token claim whose value is the partner's id, e.g. `custom:strata_partner`. */
  readonly partnerClaim: string;
  /** What the sign-in button calls the provider. @default 'your organisation\'s login' */
  readonly label?: string;
}

/** Partners' subscriptions to publish notifications: where they are kept, and how they are delivered. */
export interface SubscriptionDeps {
  /** The database (the Data API in the partner-API function): queries and a transaction. */
  readonly db: Queryable & { transaction<T>(fn: () => Promise<T>): Promise<T> };
  readonly sender: NotificationSender;
  /** Which callback URLs are taken (https; plain http to localhost only on `strata serve`). */
  readonly callbacks: CallbackRules;
}

export interface AppDeps {
  readonly catalog: Catalog;
  /** The egress bucket's manifests and files: every read of published data comes from here. */
  readonly store: ObjectStore;
  /** Only uploads' receipts, builds and run status touch the database. */
  readonly runs: RunRegistry;
  readonly queue: JobQueue;
  readonly partners: PartnerDirectory;
  readonly nonces: NonceStore;
  readonly rateLimiter: RateLimiter;
  readonly urls: UrlSigner;
  /** The environment's largest upload (each dataset's own `maxBytes` may be smaller). */
  readonly maxUploadBytes: number;
  /** A proxy or CDN in front that rewrites Host names the public URL here. */
  readonly publicBaseUrl?: string;
  /** Only where a proxy in front sets them (API Gateway does): X-Forwarded-Proto and X-Forwarded-Port. */
  readonly trustForwardedHeaders?: boolean;
  readonly local?: LocalRoutes;
  /**
   * Origins whose pages may read the partner API from a browser (CORS): `scheme://host[:port]` or `*`.
   * @default none
   */
  readonly corsOrigins?: readonly string[];
  /**
   * The most a response can carry, where the adapter in front has a limit (Lambda behind API Gateway): a QA
   * report bigger than this is sent as a short-lived URL to its file instead. @default no limit
   */
  readonly maxResponseBytes?: number;
  /** The partner portal's OpenID Connect sign-in; without it, partner staff sign in with an API key. */
  readonly portalSignIn?: PortalSignIn;
  /** Publish notifications' subscriptions; without them, their routes answer 503. */
  readonly subscriptions?: SubscriptionDeps;
  readonly log?: (message: string, detail?: Record<string, unknown>) => void;
}

/** Who is calling, once authenticated. */
export interface Principal {
  readonly partner: string;
  readonly scopes: Scopes;
  /** `session`: the console's or the portal's, made when a person signs in (runtime/web/session.ts). */
  readonly via: 'hawk' | 'api-key' | 'loopback' | 'session';
  /** The session's id, when `via` is `session`. */
  readonly session?: string;
  /** The person an identity provider named, for a portal session made by OpenID Connect. */
  readonly user?: string;
}

/** What the adapter in front (Node, Lambda) passes with each request. */
export interface Bindings {
  readonly door: Door;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: { principal: Principal; door: Door; signingKey: string };
}
