import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Catalog } from '../catalog/loader.ts';
import type { Platform } from '../platform.ts';
import { RunStatus } from '../runs/schema.ts';
import {
  DEFAULT_WEBHOOK_LIMITS,
  decodeHookName,
  onWebhook,
  type WebhookLimits,
  type WebhookSecrets,
} from '../triggers/webhook.ts';

/**
 * The body, or undefined when it is larger than `limit` bytes. What passes the limit is read and dropped,
 * not kept: the sender gets its 413 instead of a connection reset in the middle of its upload.
 */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size <= limit) chunks.push(c as Buffer);
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}

/**
 * Webhooks (the same signed POST as on AWS) and a read of recent runs, on localhost. What goes wrong inside
 * is logged, never sent back.
 */
export function httpServer(
  p: Platform,
  catalog: Catalog,
  secrets: WebhookSecrets,
  log: (m: string) => void,
  limits: Partial<WebhookLimits> = {},
): Server {
  const maxBody = limits.maxBodyBytes ?? DEFAULT_WEBHOOK_LIMITS.maxBodyBytes;
  return createServer(async (req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const hook = /^\/webhooks\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'POST' && hook) {
        const name = decodeHookName(hook[1]!);
        if (name === undefined)
          return send(400, { error: 'the hook name in the path is not valid percent-encoding' });
        const body = await readBody(req, maxBody);
        if (!body) {
          log(`webhook ${hook[1]}: 413`);
          return send(413, { error: `the body is larger than ${maxBody} bytes` });
        }
        const header = (h: string) => {
          const v = req.headers[h];
          return Array.isArray(v) ? v[0] : v;
        };
        const out = await onWebhook(
          {
            hook: name,
            body,
            signature: header('x-hub-signature-256'),
            deliveryId: header('x-github-delivery'),
          },
          {
            catalog,
            runs: p.runs,
            queue: p.queue,
            secrets,
            limits,
            log: (m, d) => log(`webhook ${hook[1]}: ${m} ${JSON.stringify(d ?? {})}`),
          },
        );
        log(`webhook ${hook[1]}: ${out.statusCode}`);
        return send(out.statusCode, out.body, { ...out.headers });
      }
      if (req.method === 'GET' && url.pathname === '/runs') {
        const status = RunStatus.safeParse(url.searchParams.get('status'));
        return send(200, await p.runs.list({ status: status.success ? status.data : undefined, limit: 100 }));
      }
      if (req.method === 'GET' && url.pathname === '/health') return send(200, { ok: true });
      return send(404, { error: 'not found' });
    } catch (e) {
      log(`http ${req.method} ${req.url}: ${(e as Error)?.message ?? String(e)}`);
      return send(500, { error: 'internal error; see the server log' });
    }
  });
}
