import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FreshnessStore } from '../ports/freshness-store.ts';
import { type CoreChild, coreStatus, receiveSummary } from './intake.ts';

/** A summary is a few KB; anything much larger is not one. */
const MAX_SUMMARY_BYTES = 256 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_SUMMARY_BYTES) throw new Error('body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface CoreServing {
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * The core on one machine (`strata serve --core`): children in other homes POST their signed summaries to
 * `/summaries`; `GET /status` answers what each child publishes, how fresh it is and what failed, as the
 * core's function URL does on AWS. A summary that does not verify gets 403, is logged and is recorded.
 */
export async function serveCore(options: {
  readonly port: number;
  readonly children: readonly CoreChild[];
  readonly store: FreshnessStore;
  readonly log: (message: string) => void;
}): Promise<CoreServing> {
  const server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (req.method === 'POST' && path === '/summaries') {
        let raw: unknown;
        try {
          raw = JSON.parse(await readBody(req));
        } catch (e) {
          raw = { unreadable: (e as Error).message };
        }
        const outcome = await receiveSummary(raw, { children: options.children, store: options.store });
        if (outcome.status === 'refused') {
          options.log(`summary refused: ${outcome.reason}`);
          return send(403, outcome);
        }
        options.log(
          `summary from ${outcome.child}: ${outcome.product}${outcome.kept ? '' : ' (not newer than the one kept)'}`,
        );
        return send(202, outcome);
      }
      if (req.method === 'GET' && path === '/status')
        return send(200, coreStatus(options.children, await options.store.read()));
      if (req.method === 'GET' && path === '/health') return send(200, { ok: true });
      return send(404, { error: 'not found' });
    } catch (e) {
      options.log(`core request failed: ${(e as Error).message}`);
      return send(500, { error: (e as Error).message });
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
