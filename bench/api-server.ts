// The partner API for the benchmark, in its own process so its peak RSS is its own: `strata serve`'s app over
// a folder of buckets, with the partners in STRATA_PARTNERS. Prints its port; on SIGTERM prints its peak RSS.
import type { AddressInfo } from 'node:net';
import { FsObjectStore } from '../runtime/adapters/local/fs-object-store.ts';
import { MemoryNonceStore, MemoryRateLimiter } from '../runtime/adapters/local/memory-guards.ts';
import { PartnerEnv } from '../runtime/adapters/local/partner-file.ts';
import { createApp } from '../runtime/http/app.ts';
import { nodeServer } from '../runtime/http/node.ts';
import type { JobQueue } from '../runtime/ports/job-queue.ts';
import type { RunRegistry } from '../runtime/runs/registry.ts';
import { LocalUrlSigner } from '../runtime/web/urls.ts';

const [buckets, product, output] = process.argv.slice(2) as [string, string, string];
const noDatabase = new Proxy({}, { get: () => () => Promise.reject(new Error('the benchmark reads only')) });
const app = createApp({
  catalog: {
    dir: '',
    datasets: new Map(),
    products: new Map([
      [
        product,
        {
          product: {
            name: product,
            inputs: {},
            checks: [],
            outputs: [
              {
                table: output,
                formats: ['csv'],
                geometry: 'geom',
                csvGeometry: 'wkt',
              },
            ],
            keepFailedBuildHours: 24,
          },
          dir: '',
          steps: [],
        },
      ],
    ]),
  },
  store: new FsObjectStore(buckets),
  runs: noDatabase as RunRegistry,
  queue: noDatabase as JobQueue,
  partners: new PartnerEnv(process.env.STRATA_PARTNERS ?? ''),
  nonces: new MemoryNonceStore(),
  rateLimiter: new MemoryRateLimiter(),
  urls: new LocalUrlSigner({ download: 300, upload: 900 }),
  maxUploadBytes: 1,
});
const server = nodeServer(app);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ rssMb: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
  process.exit(0);
});
