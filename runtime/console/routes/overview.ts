import { htmlPage, htmlProblems, toSignIn, view } from '../../web/pages.ts';
import { overviewPage as overview } from '../pages/overview.ts';
import { type ConsoleRoutes, respond } from '../respond.ts';
import { productRows } from './products.ts';

/** The console's front page: freshness of each product, datasets, quarantine. */
export function overviewPage({ app, deps, published, archive, route }: ConsoleRoutes): void {
  const { catalog } = deps;
  app.openapi(
    route({
      method: 'get',
      path: '/',
      summary: 'Console: overview (freshness of each product, datasets, quarantine)',
      responses: { 200: htmlPage('the overview'), ...toSignIn, ...htmlProblems(401, 403) },
    }),
    async (c) => {
      const [products, datasets] = await Promise.all([
        productRows(catalog, published),
        archive.datasets(catalog),
      ]);
      const body = overview(view(c), products, catalog.datasets, datasets);
      return (await respond(c, { title: 'Overview', section: 'overview', body })) as never;
    },
  );
}
