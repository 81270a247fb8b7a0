// `npm run openapi`: writes docs/openapi.json from the app's zod schemas (a test checks it is current).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApiText } from '../runtime/http/openapi-doc.ts';

const out = join(import.meta.dirname, '..', 'docs', 'openapi.json');
writeFileSync(out, openApiText());
process.stderr.write(`wrote ${out}\n`);
