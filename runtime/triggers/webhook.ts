import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { WEBHOOK_HOOK_KEY } from '../aws/names.ts';
import { type Catalog, problemsOf } from '../catalog-files/loader.ts';
import { isDatabaseUnavailable } from '../db/transient.ts';
import { StrataError } from '../errors.ts';
import type { JobQueue } from '../ports/job-queue.ts';
import type { RunRegistry } from '../runs/registry.ts';

/** `sha256=` and exactly 64 hex digits: anything else (a short digest, trailing junk) is no signature. */
const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/** GitHub's `X-Hub-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the raw body, compared in constant time. */
export function verifySignature(body: Buffer, header: string | undefined, secret: string): boolean {
  const m = SIGNATURE.exec(header ?? '');
  if (!m || typeof secret !== 'string' || !secret) return false;
  const given = Buffer.from(m[1]!, 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A hook's secret, or two while it is rotated (both are accepted until the old one is removed). */
const HookSecret = z.union([
  z.string().min(1, 'a secret must not be empty'),
  z
    .array(z.string().min(1, 'a secret must not be empty'))
    .min(1, 'give one secret, or two while rotating')
    .max(2, 'give one secret, or two while rotating'),
]);
/**
 * `{ "<hook>": secret | [new, old], "hook-key": key | [new, old], "default": ... }`: hook names are product
 * names. A hook's own entry wins; else its secret derives from `hook-key` (what the stack generates), so
 * every hook has a secret of its own that leaks no other's; `default`, one secret for every hook, is the old
 * form, still read.
 */
const HOOK_NAME = /^[a-z][a-z0-9_]*$/;
export const HOOK_KEY = WEBHOOK_HOOK_KEY;
export const WebhookSecretsDocument = z.record(
  z.string().regex(HOOK_NAME, 'is not a hook name (a product name, or "default")').or(z.literal(HOOK_KEY)),
  HookSecret,
);
export type WebhookSecretsDocument = z.infer<typeof WebhookSecretsDocument>;

/** Hook name → its secrets (a Map, so no name, `__proto__` included, reaches anything but a secret). */
export type WebhookSecrets = ReadonlyMap<string, readonly string[]>;

export class WebhookSecretsError extends StrataError {
  readonly code = 'WEBHOOK_SECRETS_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'WebhookSecretsError';
  }
}

/**
 * Reads the secrets document (the `STRATA_WEBHOOK_SECRETS` variable, or the `WebhookSecrets` secret on AWS)
 * and says clearly what is wrong with it, naming `source` and the hook, never quoting a secret.
 */
export function parseWebhookSecrets(text: string | undefined, source: string): WebhookSecrets {
  if (text === undefined || text.trim() === '') return new Map();
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new WebhookSecretsError(
      `${source} is not valid JSON: it must be an object of hook name to secret, e.g. {"county_places": "..."}`,
    );
  }
  // Keys a plain object cannot hold as data (`__proto__`) would vanish on the way through: name them first.
  const odd =
    doc && typeof doc === 'object' && !Array.isArray(doc)
      ? Object.keys(doc).filter((k) => !HOOK_NAME.test(k) && k !== HOOK_KEY)
      : [];
  if (odd.length > 0)
    throw new WebhookSecretsError(
      `${source} is invalid: ${odd.map((k) => `"${k}": is not a hook name (a product name, or "default")`).join('; ')}`,
    );
  const parsed = WebhookSecretsDocument.safeParse(doc);
  if (!parsed.success)
    throw new WebhookSecretsError(
      `${source} is invalid: ${parsed.error.issues
        .map(
          (i) => `${i.path.length > 0 ? `"${i.path.map(String).join('.')}"` : 'the document'}: ${i.message}`,
        )
        .join('; ')}`,
    );
  return new Map(
    Object.entries(parsed.data).map(([hook, s]) => [hook, typeof s === 'string' ? [s] : s] as const),
  );
}

/** The secret of `hook` derived from the stack's hook key: hex HMAC-SHA256 of the hook's name. */
export function derivedHookSecret(hookKey: string, hook: string): string {
  return createHmac('sha256', hookKey).update(hook).digest('hex');
}

/** The secrets a hook's signature may verify with: its own, else derived from the hook key, else the default. */
export function secretsForHook(secrets: WebhookSecrets, hook: string): readonly string[] {
  const own = secrets.get(hook);
  if (own) return own;
  const keys = secrets.get(HOOK_KEY);
  if (keys && HOOK_NAME.test(hook)) return keys.map((k) => derivedHookSecret(k, hook));
  return secrets.get('default') ?? [];
}

/** A hook name from a URL path segment; undefined when its percent-escapes are malformed. */
export function decodeHookName(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export interface WebhookLimits {
  /** Bodies larger than this get 413. @default 1 MiB */
  readonly maxBodyBytes: number;
  /** Runs one hook may start per `rateWindowSeconds`. @default 10 */
  readonly maxPerWindow: number;
  /** @default 60 */
  readonly rateWindowSeconds: number;
  /** A body already delivered (under any delivery id) within this many seconds is refused. @default 600 */
  readonly bodySeenSeconds: number;
}

export const DEFAULT_WEBHOOK_LIMITS: WebhookLimits = {
  maxBodyBytes: 1 << 20,
  maxPerWindow: 10,
  rateWindowSeconds: 60,
  bodySeenSeconds: 600,
};

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
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: Record<string, unknown>;
}

export interface WebhookDeps {
  readonly catalog: Catalog;
  readonly runs: RunRegistry;
  readonly queue: JobQueue;
  readonly secrets: WebhookSecrets;
  readonly limits?: Partial<WebhookLimits>;
  /** Where what went wrong inside is told (never to the sender). */
  readonly log?: (message: string, detail?: Record<string, unknown>) => void;
}

const DELIVERY = /^[\w.:-]{1,128}$/;

/**
 * A signed webhook asks for a product build. The body's size is checked first (413), then the signature
 * with the hook's own secrets (its own entry, or derived from the hook key, or the old shared default; two
 * during a rotation): a bad or missing one gets 401 and changes nothing. The delivery id is the replay guard: a delivery seen before makes no second run. A
 * captured request replayed under a new delivery id is refused too (409: the same body within
 * `bodySeenSeconds`), and each hook may start at most `maxPerWindow` runs per `rateWindowSeconds` (429).
 * Nothing inside is ever told to the sender: a failure here is a 503 with a plain message, logged in full.
 */
export async function onWebhook(req: WebhookRequest, deps: WebhookDeps): Promise<WebhookResponse> {
  const limits = { ...DEFAULT_WEBHOOK_LIMITS, ...deps.limits };
  if (req.body.length > limits.maxBodyBytes)
    return { statusCode: 413, body: { error: `the body is larger than ${limits.maxBodyBytes} bytes` } };
  const secrets = secretsForHook(deps.secrets, req.hook);
  if (!secrets.some((s) => verifySignature(req.body, req.signature, s)))
    return { statusCode: 401, body: { error: 'missing or invalid X-Hub-Signature-256' } };
  if (!req.deliveryId || !DELIVERY.test(req.deliveryId))
    return {
      statusCode: 400,
      body: { error: 'missing or malformed X-GitHub-Delivery (the replay guard needs it)' },
    };
  if (!deps.catalog.products.has(req.hook)) {
    // A product with catalog problems is there but cannot be built until they are mended.
    const problems = problemsOf(deps.catalog, 'product', req.hook);
    if (problems) return { statusCode: 422, body: { error: problems } };
    return { statusCode: 404, body: { error: 'no such hook' } };
  }
  try {
    return await accept(req, deps, limits);
  } catch (e) {
    deps.log?.('webhook failed inside', { hook: req.hook, error: (e as Error)?.message ?? String(e) });
    return {
      statusCode: 503,
      headers: { 'retry-after': '30' },
      body: {
        error: isDatabaseUnavailable(e)
          ? 'the platform is starting up; send it again shortly'
          : 'the webhook could not be taken now; send it again shortly',
      },
    };
  }
}

async function accept(
  req: WebhookRequest,
  deps: WebhookDeps,
  limits: WebhookLimits,
): Promise<WebhookResponse> {
  const dedupeKey = `webhook:${req.hook}:${req.deliveryId}`;
  const job = { kind: 'build' as const, product: req.hook };
  const seen = await deps.runs.lookups.findByDedupeKey(dedupeKey);
  if (seen) {
    // Sent again while its run still waits: a send lost after the run was recorded is not stuck.
    if (seen.status === 'queued') await deps.queue.send({ ...job, runId: seen.id });
    return { statusCode: 200, body: { runId: seen.id, status: seen.status, duplicate: true } };
  }
  const bodySha256 = createHash('sha256').update(req.body).digest('hex');
  const sameBody = await deps.runs.lookups.findRecent({
    target: req.hook,
    trigger: 'webhook',
    seconds: limits.bodySeenSeconds,
    detail: ['bodySha256', bodySha256],
  });
  if (sameBody)
    return {
      statusCode: 409,
      body: {
        error: `this body was already delivered within the last ${limits.bodySeenSeconds} s (run ${sameBody.id}); a replay under a new delivery id starts nothing`,
      },
    };
  const recent = await deps.runs.lookups.countRecent({
    target: req.hook,
    trigger: 'webhook',
    seconds: limits.rateWindowSeconds,
  });
  if (recent >= limits.maxPerWindow)
    return {
      statusCode: 429,
      headers: { 'retry-after': String(limits.rateWindowSeconds) },
      body: {
        error: `hook "${req.hook}" started ${recent} builds in the last ${limits.rateWindowSeconds} s, its limit`,
      },
    };
  const { run, created } = await deps.runs.createOnce(
    'build',
    req.hook,
    { kind: 'webhook', detail: { delivery: req.deliveryId, bodySha256 } },
    dedupeKey,
    job,
  );
  if (!created) return { statusCode: 200, body: { runId: run.id, status: run.status, duplicate: true } };
  await deps.queue.send({ ...job, runId: run.id });
  return { statusCode: 202, body: { runId: run.id, status: 'queued' } };
}
