import { z } from '@hono/zod-openapi';

/** Path parameters the partner API and the console both take: checked the same way at both. */

export const NameParam = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, 'must be a lowercase name (a-z, 0-9, _)')
  .max(63);
export const VersionParam = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be a version id');

export const RunId = z
  .string()
  .regex(/^[0-9A-Za-z][0-9A-Za-z_-]{0,80}$/, 'must be a run id')
  .openapi({ param: { name: 'id', in: 'path' } });
