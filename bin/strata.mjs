#!/usr/bin/env node
// Runs the command line from its esbuild bundle in dist/ (rebuilt in a tenth of a second whenever a source
// is newer), so `npx strata` needs no build step; through tsx's loader where dist/ cannot be written.
import { ensureBundle } from './bundle.mjs';

let bundle;
try {
  bundle = (await ensureBundle()).strata;
} catch (e) {
  if (!['EACCES', 'EROFS', 'EPERM'].includes(e?.code)) throw e;
}
if (bundle) {
  await import(bundle);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./strata.ts');
}
