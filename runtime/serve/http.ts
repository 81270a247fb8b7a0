import { createServer, type IncomingMessage, type Server } from 'node:http';
import { listVersions } from '../archive/archive.ts';
import type { Catalog } from '../catalog/loader.ts';
import type { Platform } from '../platform.ts';
import { RunStatus } from '../runs/schema.ts';
import { onWebhook } from '../triggers/webhook.ts';

const MAX_BODY = 1 << 20;

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Webhooks (the same signed POST as on AWS), and on localhost the reads the command line asks a running serve
 * for: recent runs (`?status=&target=&limit=`) and a dataset's versions.
 */
export function httpServer(
  p: Platform,
  catalog: Catalog,
  secrets: Record<string, string>,
  log: (m: string) => void,
): Server {
  return createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const hook = /^\/webhooks\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'POST' && hook) {
        const header = (name: string) => {
          const v = req.headers[name];
          return Array.isArray(v) ? v[0] : v;
        };
        const out = await onWebhook(
          {
            hook: decodeURIComponent(hook[1]!),
            body: await readBody(req),
            signature: header('x-hub-signature-256'),
            deliveryId: header('x-github-delivery'),
          },
          { catalog, runs: p.runs, queue: p.queue, secrets },
        );
        log(`webhook ${hook[1]}: ${out.statusCode}`);
        return send(out.statusCode, out.body);
      }
      if (req.method === 'GET' && url.pathname === '/runs') {
        const status = RunStatus.safeParse(url.searchParams.get('status'));
        const limit = Number(url.searchParams.get('limit') ?? 100);
        return send(
          200,
          await p.runs.list({
            status: status.success ? status.data : undefined,
            target: url.searchParams.get('target') ?? undefined,
            limit: Number.isInteger(limit) && limit > 0 ? Math.min(limit, 1000) : 100,
          }),
        );
      }
      // What `strata versions <dataset>` reads, for the command line while this process holds the database.
      const versions = /^\/datasets\/([^/]+)\/versions$/.exec(url.pathname);
      if (req.method === 'GET' && versions)
        return send(200, await listVersions(p.db, decodeURIComponent(versions[1]!)));
      if (req.method === 'GET' && url.pathname === '/health') return send(200, { ok: true });
      return send(404, { error: 'not found' });
    } catch (e) {
      return send(500, { error: (e as Error).message });
    }
  });
}
