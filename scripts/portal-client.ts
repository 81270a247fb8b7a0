/**
 * Bundles the portal's browser script (runtime/portal/client/) into runtime/portal/client-script.ts, a module
 * that holds it as a string. The portal is served by the Lambda behind API Gateway too, whose bundle has no
 * esbuild to run at start-up, so the script is built here and committed; test/unit/portal-client.test.ts
 * fails when the committed copy is not what the sources make. `--check` only compares.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

const ROOT = join(import.meta.dirname, '..');
export const PORTAL_SCRIPT_MODULE = join(ROOT, 'runtime', 'portal', 'client-script.ts');

/** The module's text, as the sources make it now. */
export async function portalScriptModule(): Promise<string> {
  const bundled = await build({
    entryPoints: [join(ROOT, 'runtime', 'portal', 'client', 'portal.ts')],
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    minify: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const script = bundled.outputFiles[0]!.text.trim().replace(/<\/script/gi, '<\\/script');
  return `// Made by \`node --import tsx scripts/portal-client.ts\` from runtime/portal/client/: do not edit.\n\n/** The portal's browser script, bundled and minified; every page inlines it, allowed by its hash. */\nexport const PORTAL_SCRIPT = ${JSON.stringify(script)};\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = await portalScriptModule();
  if (process.argv.includes('--check')) {
    const now = await readFile(PORTAL_SCRIPT_MODULE, 'utf8').catch(() => '');
    if (now !== text) {
      console.error(
        'runtime/portal/client-script.ts is stale: run node --import tsx scripts/portal-client.ts',
      );
      process.exit(1);
    }
  } else await writeFile(PORTAL_SCRIPT_MODULE, text);
}
