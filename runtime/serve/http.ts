import type { Server } from 'node:http';
import { MemoryNonceStore, MemoryRateLimiter } from '../adapters/local/memory-guards.ts';
import { OutboxSender } from '../adapters/local/webhook-delivery.ts';
import { listVersions } from '../archive/archive.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import { createApp } from '../http/app.ts';
import { nodeServer } from '../http/node.ts';
import { emptyDirectory } from '../partners/credentials.ts';
import type { Platform } from '../platform/platform.ts';
import type { PartnerDirectory } from '../ports/partner-directory.ts';
import type { WebhookLimits, WebhookSecrets } from '../triggers/webhook.ts';
import type { PortalSignIn } from '../web/context.ts';
import { LocalUrlSigner } from '../web/urls.ts';

export interface LocalApiOptions {
  /** Partners and their keys; none when absent. */
  readonly partners?: PartnerDirectory;
  readonly maxUploadBytes?: number;
  /** How clients reach this server, when not at the address it listens on (a proxy in front). */
  readonly publicBaseUrl?: string;
  /** Origins whose pages may read the partner API from a browser (CORS). @default none */
  readonly corsOrigins?: readonly string[];
  /** The partner portal's OpenID Connect sign-in (portalSignInFromEnv). @default API keys only */
  readonly portalSignIn?: PortalSignIn;
  /** Body size, rate and replay window of the webhooks (DEFAULT_WEBHOOK_LIMITS). */
  readonly webhookLimits?: Partial<WebhookLimits>;
}

const noPartners = (): PartnerDirectory => {
  const doc = emptyDirectory();
  return {
    where: 'no partner directory',
    read: async () => doc,
    update: async () => {
      throw new Error('no partner directory to change');
    },
  };
};

/**
 * The HTTP application on localhost: the partner API with the same routes and authentication as on AWS,
 * the signed webhooks, and `GET /runs` for the operator at the machine.
 */
export function httpServer(
  p: Platform,
  catalog: Catalog,
  secrets: WebhookSecrets,
  log: (m: string) => void,
  api: LocalApiOptions = {},
): Server {
  const app = createApp({
    catalog,
    store: p.store,
    runs: p.runs,
    queue: p.queue,
    partners: api.partners ?? noPartners(),
    // One process: nonces and request counts in memory.
    nonces: new MemoryNonceStore(),
    rateLimiter: new MemoryRateLimiter(),
    urls: new LocalUrlSigner({ download: 300, upload: 900 }),
    maxUploadBytes: api.maxUploadBytes ?? 5 * 1024 ** 3,
    publicBaseUrl: api.publicBaseUrl,
    corsOrigins: api.corsOrigins,
    portalSignIn: api.portalSignIn,
    // A laptop: a partner's test receiver on localhost may be plain http.
    subscriptions: { db: p.db, sender: p.notifications ?? new OutboxSender(), callbacks: { local: true } },
    local: {
      webhookSecrets: secrets,
      webhookLimits: api.webhookLimits,
      operatorsOnLoopback: true,
      // What `strata versions <dataset>` reads while this process holds the embedded database.
      datasetVersions: (dataset) => listVersions(p.db, dataset),
    },
    log: (m, detail) => log(detail ? `${m} ${JSON.stringify(detail)}` : m),
  });
  return nodeServer(app);
}
