import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Catalog, problemsOf } from '../catalog/loader.ts';
import type { JobQueue } from '../ports/job-queue.ts';
import type { RunRegistry } from '../runs/registry.ts';

/** GitHub's `X-Hub-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the raw body, compared in constant time. */
export function verifySignature(body: Buffer, header: string | undefined, secret: string): boolean {
  if (!header?.startsWith('sha256=') || !secret) return false;
  const given = Buffer.from(header.slice(7), 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface WebhookRequest {
  /** The hook's name, from the path: the product it builds. */
  readonly hook: string;
  /** The body exactly as sent (API Gateway's base64 already decoded). */
  readonly body: Buffer;
  readonly signature: string | undefined;
  readonly deliveryId: string | undefined;
}

export interface WebhookResponse {
  readonly statusCode: number;
  readonly body: Record<string, unknown>;
}

/**
 * A signed webhook asks for a product build. The signature is checked before anything else, with the hook's
 * own secret (or the shared default); a bad or missing one gets 401 and changes nothing. The delivery id is
 * the replay guard: a delivery seen before makes no second run.
 */
export async function onWebhook(
  req: WebhookRequest,
  deps: { catalog: Catalog; runs: RunRegistry; queue: JobQueue; secrets: Readonly<Record<string, string>> },
): Promise<WebhookResponse> {
  const secret = deps.secrets[req.hook] ?? deps.secrets.default;
  if (!secret || !verifySignature(req.body, req.signature, secret))
    return { statusCode: 401, body: { error: 'missing or invalid X-Hub-Signature-256' } };
  if (!req.deliveryId)
    return { statusCode: 400, body: { error: 'missing X-GitHub-Delivery (the replay guard needs it)' } };
  if (!deps.catalog.products.has(req.hook)) {
    // A product with catalog problems is there but cannot be built until they are mended.
    const problems = problemsOf(deps.catalog, 'product', req.hook);
    if (problems) return { statusCode: 422, body: { error: problems } };
    return { statusCode: 404, body: { error: `no hook "${req.hook}"` } };
  }
  const { run, created } = await deps.runs.createOnce(
    'build',
    req.hook,
    { kind: 'webhook', detail: { delivery: req.deliveryId } },
    `webhook:${req.hook}:${req.deliveryId}`,
  );
  if (!created) return { statusCode: 200, body: { runId: run.id, status: run.status, duplicate: true } };
  await deps.queue.send({ kind: 'build', runId: run.id, product: req.hook });
  return { statusCode: 202, body: { runId: run.id, status: 'queued' } };
}
