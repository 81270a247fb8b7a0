// Preloaded (--import) into a rehearsed process: records which STRATA_* environment variables the code
// reads, whatever way it reads them (minified bundles name them indirectly), into $REHEARSAL_ENV_OUT at exit.
import { writeFileSync } from 'node:fs';

const read = new Set();
/** invoke.mjs reports these with its results; a task's process writes them as it exits. */
globalThis.strataEnvReads = read;
const env = process.env;
const out = env.REHEARSAL_ENV_OUT;
process.env = new Proxy(env, {
  get(target, name) {
    if (typeof name === 'string' && name.startsWith('STRATA_')) read.add(name);
    return target[name];
  },
});
process.on('exit', () => {
  if (out) writeFileSync(out, JSON.stringify([...read].sort()));
});
