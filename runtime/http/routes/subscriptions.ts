import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { checkCallbackUrl } from '../../partners/callback-url.ts';
import {
  createSubscription,
  DISABLE_AFTER_FAILURES,
  deleteSubscription,
  listSubscriptions,
  newSubscriptionId,
  recentDeliveries,
  type Subscription,
  subscriptionById,
  withoutSecret,
} from '../../partners/subscriptions.ts';
import { newSigningSecret } from '../../ports/notifications.ts';
import type { AppDeps, AppEnv, Principal, SubscriptionDeps } from '../../web/context.ts';
import { type Door, link } from '../../web/door.ts';
import { HttpProblem, notFound } from '../../web/problem.ts';
import { forbiddenFor } from '../../web/published.ts';
import { guardedBy } from '../../web/route.ts';
import * as S from '../schemas.ts';

const SubscriptionId = z
  .string()
  .regex(/^sub_[0-9a-f]{24}$/, 'must be a subscription id (sub_ and 24 hex digits)')
  .openapi({ param: { name: 'id', in: 'path' } });

const SubscriptionRequest = z
  .object({
    url: z.string().max(2000).openapi({ example: 'https://gis.example.org/strata/notifications' }),
    products: z.array(z.string().max(200)).min(1).max(100),
  })
  .openapi('SubscriptionRequest');

const SubscriptionView = z
  .object({
    id: z.string(),
    url: z.string(),
    products: z.array(z.string()),
    createdAt: z.string(),
    status: z.enum(['active', 'disabled']),
    consecutiveFailures: z.number(),
    disabledReason: z.string().nullable(),
    links: z.array(S.Link),
  })
  .openapi('Subscription');

const NewSubscription = SubscriptionView.extend({
  secret: z.string().openapi({
    description: 'the signing secret (Standard Webhooks, whsec_<base64>): shown this once, keep it',
  }),
}).openapi('NewSubscription');

const Delivery = z
  .object({
    notificationId: z.string(),
    subscriptionId: z.string(),
    product: z.string(),
    version: z.string(),
    attempt: z.number(),
    at: z.string(),
    statusCode: z.number().nullable(),
    error: z.string().nullable(),
    status: z.string(),
  })
  .openapi('Delivery');

function viewOf(s: Subscription, door: Door) {
  return {
    id: s.id,
    url: s.url,
    products: [...s.products],
    createdAt: s.createdAt,
    status: s.disabledAt ? ('disabled' as const) : ('active' as const),
    consecutiveFailures: s.consecutiveFailures,
    disabledReason: s.disabledReason,
    links: [
      { rel: 'self', href: link(door, `/subscriptions/${s.id}`), type: 'application/json' },
      { rel: 'deliveries', href: link(door, `/subscriptions/${s.id}/deliveries`), type: 'application/json' },
    ],
  };
}

function subscriptionsOf(deps: AppDeps): SubscriptionDeps {
  if (!deps.subscriptions)
    throw new HttpProblem(503, 'Service Unavailable', 'publish notifications are not set up here');
  return deps.subscriptions;
}

/** Every product named must exist and be one the partner may read: a notification tells what was published. */
function checkProducts(deps: AppDeps, p: Principal, products: readonly string[]): void {
  for (const name of products) {
    if (!deps.catalog.products.has(name)) throw notFound(`no product "${name}"`);
    if (!p.scopes.allows('read', 'products', name)) forbiddenFor('read', 'products', name);
  }
}

async function ownSubscription(s: SubscriptionDeps, p: Principal, id: string) {
  const found = await subscriptionById(s.db, id);
  // Someone else's subscription is answered exactly like a missing one.
  if (!found || found.partner !== p.partner) throw notFound(`no subscription "${id}" of yours`);
  return found;
}

/**
 * Publish notifications: a partner subscribes a callback URL to products it may read, and is sent a signed
 * notification (Standard Webhooks) each time one is published. The signing secret is in the answer to the
 * subscription, once.
 */
export function subscriptionRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: AppDeps,
  guard: MiddlewareHandler<AppEnv>,
): void {
  const route = guardedBy(guard);
  app.openapi(
    route({
      method: 'post',
      path: '/subscriptions',
      tags: ['notifications'],
      summary: `Subscribe a callback URL to products' publish notifications (signed; disabled after ${DISABLE_AFTER_FAILURES} undeliverable in a row)`,
      request: { body: { content: { 'application/json': { schema: SubscriptionRequest } }, required: true } },
      responses: {
        201: S.json(NewSubscription, 'subscribed: the secret is shown this once'),
        ...S.problems(400, 401, 403, 404, 429, 503),
      },
    }),
    async (c) => {
      const s = subscriptionsOf(deps);
      const p = c.get('principal');
      const body = c.req.valid('json');
      checkProducts(deps, p, body.products);
      const url = await checkCallbackUrl(body.url, s.callbacks);
      const id = newSubscriptionId();
      const secret = newSigningSecret();
      // Made where it is delivered from first: a subscription recorded is one that can be delivered.
      await s.sender.provision({ id, partner: p.partner, url });
      const created = await createSubscription(s.db, {
        id,
        partner: p.partner,
        url,
        products: body.products,
        secret,
        apiBase: link(c.get('door'), ''),
      }).catch(async (e: unknown) => {
        await s.sender.retire(id).catch(() => {});
        throw e;
      });
      return c.json({ ...viewOf(withoutSecret(created), c.get('door')), secret }, 201);
    },
  );
  app.openapi(
    route({
      method: 'get',
      path: '/subscriptions',
      tags: ['notifications'],
      summary: "This partner's subscriptions",
      responses: {
        200: S.json(z.array(SubscriptionView), 'the subscriptions'),
        ...S.problems(401, 429, 503),
      },
    }),
    async (c) => {
      const s = subscriptionsOf(deps);
      const list = await listSubscriptions(s.db, c.get('principal').partner);
      return c.json(
        list.map((x) => viewOf(x, c.get('door'))),
        200,
      );
    },
  );
  itemRoutes(app, deps, route);
}

function itemRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps, route: ReturnType<typeof guardedBy>): void {
  const params = z.object({ id: SubscriptionId });
  app.openapi(
    route({
      method: 'delete',
      path: '/subscriptions/{id}',
      tags: ['notifications'],
      summary: 'Unsubscribe (the delivery log is kept)',
      request: { params },
      responses: { 204: { description: 'unsubscribed' }, ...S.problems(401, 404, 429, 503) },
    }),
    async (c) => {
      const s = subscriptionsOf(deps);
      const p = c.get('principal');
      const { id } = c.req.valid('param');
      await ownSubscription(s, p, id);
      if (!(await deleteSubscription(s.db, p.partner, id)))
        throw notFound(`no subscription "${id}" of yours`);
      await s.sender.retire(id);
      return c.body(null, 204);
    },
  );
  app.openapi(
    route({
      method: 'get',
      path: '/subscriptions/{id}/deliveries',
      tags: ['notifications'],
      summary: "A subscription's latest delivery attempts, newest first",
      request: {
        params,
        query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
      },
      responses: { 200: S.json(z.array(Delivery), 'the attempts'), ...S.problems(401, 404, 429, 503) },
    }),
    async (c) => {
      const s = subscriptionsOf(deps);
      const p = c.get('principal');
      const { id } = c.req.valid('param');
      await ownSubscription(s, p, id);
      const mine = await recentDeliveries(s.db, {
        partner: p.partner,
        subscriptionId: id,
        limit: c.req.valid('query').limit,
      });
      return c.json(
        mine.map(({ partner: _, ...d }) => d),
        200,
      );
    },
  );
}
