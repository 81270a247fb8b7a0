import { z } from '@hono/zod-openapi';
import { listSubscriptions, recentDeliveries } from '../../partners/subscriptions.ts';
import { htmlPage, htmlProblems, toSignIn, view } from '../../web/pages.ts';
import { HttpProblem } from '../../web/problem.ts';
import { subscriptionsPage } from '../pages/subscriptions.ts';
import { type ConsoleRoutes, respond } from '../respond.ts';

/** Partners' subscriptions to publish notifications and their latest deliveries (they need the database). */
export function subscriptionPages({ app, deps, route }: ConsoleRoutes): void {
  app.openapi(
    route({
      method: 'get',
      path: '/notifications',
      summary:
        "Console: partners' subscriptions to publish notifications and recent deliveries (needs the database)",
      request: {
        query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
      },
      responses: {
        200: htmlPage('subscriptions and deliveries'),
        ...toSignIn,
        ...htmlProblems(401, 403, 503),
      },
    }),
    async (c) => {
      const s = deps.subscriptions;
      if (!s) throw new HttpProblem(503, 'Service Unavailable', 'publish notifications are not set up here');
      const [subscriptions, deliveries] = await Promise.all([
        listSubscriptions(s.db),
        recentDeliveries(s.db, { limit: c.req.valid('query').limit }),
      ]);
      const body = subscriptionsPage(view(c), subscriptions, deliveries);
      return (await respond(c, { title: 'Notifications', section: 'notifications', body })) as never;
    },
  );
}
