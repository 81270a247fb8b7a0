import { z } from '@hono/zod-openapi';
import { queueRelease } from '../../jobs/release.ts';
import { form, htmlPage, htmlProblems, seeOther, toSignIn, view } from '../../web/pages.ts';
import { NameParam, VersionParam } from '../../web/params.ts';
import { notFound } from '../../web/problem.ts';
import { to } from '../layout.ts';
import { datasetPage, datasetsPage } from '../pages/datasets.ts';
import { type ConsoleRoutes, respond } from '../respond.ts';
import { checkForm } from '../session.ts';

const name = NameParam.openapi({ param: { name: 'name', in: 'path' } });
const fileId = VersionParam.openapi({ param: { name: 'id', in: 'path' } });

/** Datasets: the list, one dataset's versions and history, and releasing a file from quarantine. */
export function datasetPages(routes: ConsoleRoutes): void {
  const { app, deps, archive, route } = routes;
  const { catalog } = deps;
  app.openapi(
    route({
      method: 'get',
      path: '/datasets',
      summary: 'Console: datasets, their current version and files in quarantine',
      responses: { 200: htmlPage('datasets'), ...toSignIn, ...htmlProblems(401, 403) },
    }),
    async (c) => {
      const body = datasetsPage(view(c), catalog.datasets, await archive.datasets(catalog));
      return (await respond(c, { title: 'Datasets', section: 'datasets', body })) as never;
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/datasets/{name}',
      summary: "Console: a dataset's versions, the history of its current version, its quarantined files",
      request: { params: z.object({ name }) },
      responses: { 200: htmlPage('the dataset'), ...toSignIn, ...htmlProblems(401, 403, 404) },
    }),
    async (c) => {
      const n = c.req.valid('param').name;
      const dataset = catalog.datasets.get(n);
      if (!dataset) throw notFound(`no dataset "${n}" in the catalog`);
      const body = datasetPage(view(c), dataset, await archive.dataset(n));
      return (await respond(c, { title: n, section: 'datasets', body })) as never;
    },
  );
  releasePage(routes);
}

/** Releasing a quarantined file: the same release as `strata quarantine release`, from a form. */
function releasePage({ app, deps, route }: ConsoleRoutes): void {
  app.openapi(
    route({
      method: 'post',
      path: '/datasets/{name}/quarantine/{id}/release',
      summary:
        'Console: release a quarantined file, with a reason (as `strata quarantine release`); 303 to its run',
      request: {
        params: z.object({ name, id: fileId }),
        ...form({
          request: z
            .string()
            .regex(/^[A-Za-z0-9_-]{8,40}$/)
            .openapi({ description: 'made by the page: the same form sent twice is one release' }),
          reason: z.string().trim().min(1, 'a release needs a reason').max(500),
        }),
      },
      responses: {
        ...seeOther('queued: to the release run'),
        ...htmlProblems(400, 401, 403, 404, 409, 503),
      },
    }),
    async (c) => {
      const { name: dataset, id } = c.req.valid('param');
      const body = c.req.valid('form');
      checkForm(c, body.form);
      const p = c.get('principal');
      const { run } = await queueRelease(
        { runs: deps.runs, queue: deps.queue, store: deps.store, catalog: deps.catalog },
        { dataset, id },
        {
          reason: body.reason,
          request: body.request,
          actor: { trigger: 'console', user: p.partner },
          trigger: { kind: 'console', by: p.partner, detail: { via: p.via } },
        },
      );
      return c.redirect(to(view(c), `/runs/${run.id}`), 303) as never;
    },
  );
}
