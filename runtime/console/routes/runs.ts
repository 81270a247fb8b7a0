import { z } from '@hono/zod-openapi';
import { NotFoundError } from '../../errors.ts';
import { failedQaLocation } from '../../qa/schema.ts';
import { redriveRun } from '../../runs/redrive.ts';
import { RunKind, RunStatus } from '../../runs/schema.ts';
import { form, htmlPage, htmlProblems, seeOther, toSignIn, view } from '../../web/pages.ts';
import { NameParam, RunId } from '../../web/params.ts';
import { notFound } from '../../web/problem.ts';
import { reportResponse, reportResponses } from '../../web/report.ts';
import { to } from '../layout.ts';
import { type RetryNote, runPage, runsPage } from '../pages/runs.ts';
import { type ConsoleRoutes, respond } from '../respond.ts';
import { checkForm } from '../session.ts';

/** Runs (they need the database): the list, one run, a failed build's QA report, and sending a run again. */
export function runPages(routes: ConsoleRoutes): void {
  const { app, deps, route } = routes;
  app.openapi(
    route({
      method: 'get',
      path: '/runs',
      summary: 'Console: recent runs with status, timings, attempts and causes (needs the database)',
      request: {
        query: z.object({
          status: z.enum(['', ...RunStatus.options]).optional(),
          kind: z.enum(['', ...RunKind.options]).optional(),
          target: z.union([z.literal(''), NameParam]).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
        }),
      },
      responses: { 200: htmlPage('runs'), ...toSignIn, ...htmlProblems(400, 401, 403, 503) },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const filter = {
        status: q.status || undefined,
        kind: q.kind || undefined,
        target: q.target || undefined,
        limit: q.limit,
      };
      const body = runsPage(view(c), await deps.runs.list(filter), filter);
      return (await respond(c, { title: 'Runs', section: 'runs', body })) as never;
    },
  );

  app.openapi(
    route({
      method: 'get',
      path: '/runs/{id}',
      summary: 'Console: one run: status, timings, cause, every attempt, receipt, cost (needs the database)',
      request: {
        params: z.object({ id: RunId }),
        query: z.object({
          retry: z.enum(['queued', 'skipped']).optional(),
          why: z.string().max(300).optional(),
        }),
      },
      responses: { 200: htmlPage('the run'), ...toSignIn, ...htmlProblems(401, 403, 404, 503) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const [run, attempts] = await Promise.all([deps.runs.get(id), deps.runs.attempts(id)]);
      const note: RetryNote | undefined = q.retry ? { status: q.retry, reason: q.why } : undefined;
      const body = runPage(view(c), run, attempts, note);
      return (await respond(c, { title: `Run ${id}`, section: 'runs', body })) as never;
    },
  );
  runActions(routes);
}

/** What a run's page links to: a failed build's QA report, and sending the run again. */
function runActions({ app, deps, route }: ConsoleRoutes): void {
  app.openapi(
    route({
      method: 'get',
      path: '/runs/{id}/qa',
      summary:
        'Console: the QA report of a build that failed its checks (kept in the archive, never published)',
      request: { params: z.object({ id: RunId }) },
      responses: { ...reportResponses, ...toSignIn, ...htmlProblems(401, 403, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      try {
        return (await reportResponse(c, deps, 'archive', failedQaLocation(id).html)) as never;
      } catch (e) {
        if (e instanceof NotFoundError)
          throw notFound(`run ${id} left no QA report (only a build that failed its checks does)`);
        throw e;
      }
    },
  );

  app.openapi(
    route({
      method: 'post',
      path: '/runs/{id}/retry',
      summary: 'Console: send a failed or interrupted run again (as `strata runs retry`); 303 back to it',
      request: { params: z.object({ id: RunId }), ...form({}) },
      responses: {
        ...seeOther('back to the run, saying what happened'),
        ...htmlProblems(400, 401, 403, 404, 503),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      checkForm(c, c.req.valid('form').form);
      const p = c.get('principal');
      const out = await redriveRun({ runs: deps.runs, queue: deps.queue }, id, `${p.partner} (console)`);
      const query =
        out.status === 'queued'
          ? 'retry=queued'
          : `retry=skipped&why=${encodeURIComponent(out.reason ?? '')}`;
      return c.redirect(to(view(c), `/runs/${id}?${query}`), 303) as never;
    },
  );
}
