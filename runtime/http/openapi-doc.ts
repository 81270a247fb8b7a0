import { FsObjectStore } from '../adapters/local/fs-object-store.ts';
import { MemoryNonceStore, MemoryRateLimiter } from '../adapters/local/memory-guards.ts';
import { emptyDirectory } from '../partners/credentials.ts';
import type { JobQueue } from '../ports/job-queue.ts';
import type { RunRegistry } from '../runs/registry.ts';
import { LocalUrlSigner } from '../web/urls.ts';
import { createApp, openApiDocument } from './app.ts';

const unused = new Proxy(
  {},
  {
    get: () => () => {
      throw new Error('not used to describe the API');
    },
  },
);

/**
 * The app with every route it can serve (`local` adds what only `strata serve` answers), for describing it:
 * routes are registered without touching any port.
 */
export function describedApp(local = true) {
  const doc = emptyDirectory();
  return createApp({
    catalog: { dir: '', datasets: new Map(), products: new Map() },
    store: new FsObjectStore('/nonexistent'),
    runs: unused as RunRegistry,
    queue: unused as JobQueue,
    partners: { where: 'none', read: async () => doc, update: async () => doc },
    nonces: new MemoryNonceStore(),
    rateLimiter: new MemoryRateLimiter(),
    urls: new LocalUrlSigner({ download: 1, upload: 1 }),
    maxUploadBytes: 1,
    // So the portal's OpenID Connect routes are described too; nothing asks the issuer until a sign-in.
    portalSignIn: {
      issuer: 'https://login.example.org',
      clientId: 'strata-portal',
      partnerClaim: 'strata_partner',
    },
    ...(local ? { local: { webhookSecrets: new Map(), operatorsOnLoopback: true } } : {}),
  });
}

/** `docs/openapi.json`, as committed: the OpenAPI 3.1 document of every route. */
export function openApiText(): string {
  return `${JSON.stringify(openApiDocument(describedApp()), null, 2)}\n`;
}
