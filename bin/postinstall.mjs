#!/usr/bin/env node
// Run by `npm ci` / `npm install` in this repository: makes the embedded database's prepared image now, so
// the first `npm run demo` or `strata` command copies it instead of making it (`strata prepare`). An install
// never fails for it: where it cannot be made (no cache to write, an interrupted install), the first run
// makes it as it always did. STRATA_SKIP_PREPARE=1 (or `npm ci --ignore-scripts`) leaves it to that run.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

if (process.env.STRATA_SKIP_PREPARE !== '1') {
  const strata = fileURLToPath(new URL('./strata.mjs', import.meta.url));
  const run = spawnSync(process.execPath, [strata, 'prepare'], { stdio: 'inherit' });
  if (run.status !== 0)
    process.stderr.write(
      `strata: the prepared database image was not made now (${run.error?.message ?? `exit ${run.status ?? run.signal}`}); the first run will make it\n`,
    );
}
