import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../web/context.ts';
import { link } from '../../web/door.ts';
import * as S from '../schemas.ts';
import { ogcQuery } from './ogc-query.ts';

export const CONFORMANCE = [
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30',
];

/** The landing page and conformance: public, they name nothing a partner could not see. */
export function landingRoutes(app: OpenAPIHono<AppEnv>): void {
  const tags = ['features'];
  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags,
      summary: 'Landing page (OGC API)',
      request: { query: ogcQuery },
      responses: {
        200: { description: 'landing page', content: { 'application/json': { schema: S.LandingPage } } },
        ...S.problems(400),
      },
    }),
    (c) => {
      const door = c.get('door');
      return c.json(
        {
          title: 'Strata partner API',
          description:
            'Datasets, published data products and their versions; OGC API – Features over published outputs; uploads and builds.',
          links: [
            { rel: 'self', href: link(door, '/'), type: 'application/json' },
            {
              rel: 'service-desc',
              href: link(door, '/api'),
              type: 'application/vnd.oai.openapi+json;version=3.0',
              title: 'OpenAPI 3.0',
            },
            {
              rel: 'service-desc',
              href: link(door, '/openapi.json'),
              type: 'application/vnd.oai.openapi+json;version=3.1',
              title: 'OpenAPI 3.1',
            },
            { rel: 'conformance', href: link(door, '/conformance'), type: 'application/json' },
            { rel: 'data', href: link(door, '/collections'), type: 'application/json' },
            {
              rel: 'service-doc',
              href: link(door, '/api.html'),
              type: 'text/html',
              title: 'The API documentation, as a page',
            },
          ],
        },
        200,
      );
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/conformance',
      tags,
      summary: 'The OGC API – Features conformance classes this API implements',
      request: { query: ogcQuery },
      responses: {
        200: { description: 'conformance', content: { 'application/json': { schema: S.Conformance } } },
        ...S.problems(400),
      },
    }),
    (c) => c.json({ conformsTo: CONFORMANCE }, 200),
  );
}
