import type { AddressInfo } from 'node:net';
import { Cron } from 'croner';
import { deliveryLoop } from '../adapters/local/webhook-delivery.ts';
import type { Catalog } from '../catalog-files/loader.ts';
import type { Platform } from '../platform/platform.ts';
import type { PartnerDirectory } from '../ports/partner-directory.ts';
import { onSchedule } from '../triggers/schedule.ts';
import type { WebhookSecrets } from '../triggers/webhook.ts';
import type { PortalSignIn } from '../web/context.ts';
import { httpServer } from './http.ts';
import { IngressWatcher } from './ingress-watcher.ts';
import { recoverOrphans, workLoop } from './worker.ts';

export interface ServeOptions {
  readonly port: number;
  readonly workers: number;
  readonly pollMs: number;
  readonly maxUploadBytes: number;
  /** How long a file in the ingress folder must go unchanged before it is taken. */
  readonly quietMs: number;
  readonly webhookSecrets: WebhookSecrets;
  /** The partner API's partners, keys and scopes (`<home>/partners.json`); none when absent. */
  readonly partners?: PartnerDirectory;
  /** Origins whose pages may read the partner API from a browser (CORS). @default none */
  readonly corsOrigins?: readonly string[];
  /** The partner portal's OpenID Connect sign-in. @default API keys only */
  readonly portalSignIn?: PortalSignIn;
  /** Seconds without a heartbeat after which a running run is taken as orphaned; 'all' with the embedded database. */
  readonly staleSeconds: number | 'all';
  readonly log: (message: string) => void;
}

export interface Serving {
  readonly port: number;
  /** Stops taking work, lets the jobs in hand finish, and closes everything. */
  stop(): Promise<void>;
}

/** `rate(N minutes|hours|days)` in milliseconds. */
function rateMs(expression: string): number | undefined {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!m) return undefined;
  const unit = m[2]!.startsWith('minute') ? 60_000 : m[2]!.startsWith('hour') ? 3_600_000 : 86_400_000;
  return Number(m[1]) * unit;
}

/**
 * Retries the runs orphaned by a worker that was killed, now and, with a shared server (where another
 * machine's worker can die at any time), again now and then. Returns the timer to clear, if any.
 */
async function startRecovery(p: Platform, options: ServeOptions): Promise<NodeJS.Timeout | undefined> {
  const recover = async () => {
    const recovered = await recoverOrphans(p, options.staleSeconds);
    if (recovered.length > 0)
      options.log(`retrying ${recovered.length} run(s) whose worker stopped: ${recovered.join(', ')}`);
  };
  await recover();
  if (options.staleSeconds === 'all') return undefined;
  return setInterval(
    () => {
      recover().catch((e) => options.log(`recovery failed: ${(e as Error).message}`));
    },
    Math.max(1000, (options.staleSeconds * 1000) / 2),
  );
}

/** Polls the ingress folder for files that have gone quiet; `stop` waits for the poll in hand. */
function watchIngress(p: Platform, catalog: Catalog, options: ServeOptions): { stop(): Promise<void> } {
  const watcher = new IngressWatcher(
    p,
    catalog,
    { maxBytes: options.maxUploadBytes, quietMs: options.quietMs },
    (key, outcome) =>
      options.log(
        `ingress ${key}: ${outcome.status}${outcome.status === 'rejected' ? ` (${outcome.reason})` : ` (run ${outcome.runId})`}`,
      ),
  );
  let polling = Promise.resolve();
  const poller = setInterval(() => {
    polling = polling
      .then(() => watcher.poll())
      .catch((e) => options.log(`ingress watch failed: ${(e as Error).message}`));
  }, options.pollMs);
  return {
    async stop() {
      clearInterval(poller);
      await polling;
    },
  };
}

/** A timer (for `rate(...)`) or a cron per scheduled dataset and product, each queuing its job when due. */
function startSchedules(p: Platform, catalog: Catalog, log: (message: string) => void): { stop(): void }[] {
  const schedules: { stop(): void }[] = [];
  const fire = (kind: 'dataset' | 'product', name: string, time: Date) =>
    onSchedule({ kind, name, time: time.toISOString() }, { catalog, runs: p.runs, queue: p.queue })
      .then((o) => log(`schedule ${kind} ${name}: ${o.status}`))
      .catch((e) => log(`schedule ${kind} ${name} failed: ${(e as Error).message}`));
  const entries = [
    ...[...catalog.datasets.values()]
      .filter((d) => d.schedule)
      .map((d) => ['dataset', d.name, d.schedule!] as const),
    ...[...catalog.products.values()]
      .filter((e) => e.product.schedule)
      .map((e) => ['product', e.product.name, e.product.schedule!] as const),
  ];
  for (const [kind, name, expression] of entries) {
    const every = rateMs(expression);
    if (every !== undefined) {
      const timer = setInterval(() => fire(kind, name, new Date()), every);
      schedules.push({ stop: () => clearInterval(timer) });
    } else {
      const cron: Cron = new Cron(expression, { timezone: 'UTC' }, (): void => {
        fire(kind, name, cron.currentRun() ?? new Date());
      });
      schedules.push(cron);
    }
  }
  return schedules;
}

/**
 * Connections `strata serve` may hold on a server for `workers` workers. A job holds one for its whole run
 * (a build's session, waiting its turn behind another build of the same product included) and may need one
 * more beside it (the QA report reads both versions at once); the HTTP server, the ingress watcher, the
 * heartbeats and the queue share the rest. With fewer, workers holding sessions can take the whole pool and
 * wait for ever on the one a build needs beside its own: with a pool of 8 and 8 workers, 8 builds of one
 * product did (`npm run bench:scale` found it).
 */
export const serveConnections = (workers: number): number => 2 * workers + 4;

/**
 * The platform running by itself on one machine, with the same logic as on AWS: the ingress folder watched
 * for new files (object created), catalog schedules (cron), signed webhooks on HTTP, and workers taking jobs
 * from the queue table. Runs orphaned by a worker that was killed are retried first.
 */
export async function serve(p: Platform, catalog: Catalog, options: ServeOptions): Promise<Serving> {
  const recovery = await startRecovery(p, options);
  let stopping = false;
  const ingress = watchIngress(p, catalog, options);
  const schedules = startSchedules(p, catalog, options.log);
  // Partners' publish notifications, from the outbox the publish recorded them in (a restart loses none).
  const delivery = deliveryLoop(p.db, options.pollMs, options.log);

  const server = httpServer(p, catalog, options.webhookSecrets, options.log, {
    partners: options.partners,
    maxUploadBytes: options.maxUploadBytes,
    corsOrigins: options.corsOrigins,
    portalSignIn: options.portalSignIn,
  });
  await new Promise<void>((resolve) => server.listen(options.port, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const workers = Array.from({ length: options.workers }, (_, i) =>
    workLoop(p, catalog, {
      stopping: () => stopping,
      heartbeatMs:
        options.staleSeconds === 'all' ? 30_000 : Math.min(30_000, (options.staleSeconds * 1000) / 3),
      log: (m) => options.log(m),
      name: `worker ${i + 1}`,
      execute: { maxUploadBytes: options.maxUploadBytes },
    }).catch((e) => options.log(`worker ${i + 1} stopped: ${(e as Error).message}`)),
  );

  return {
    port,
    async stop() {
      stopping = true;
      const polled = ingress.stop();
      if (recovery) clearInterval(recovery);
      for (const s of schedules) s.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await polled;
      await Promise.all(workers);
      await delivery.stop();
    },
  };
}
