// The portal's browser script is committed bundled (the Lambda that serves the pages has no esbuild to run):
// this fails when the committed copy is not what runtime/portal/client/ makes now.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { PORTAL_SCRIPT_MODULE, portalScriptModule } from '../../scripts/portal-client.ts';

describe("the portal's bundled script", () => {
  it('is what its sources make (run `node --import tsx scripts/portal-client.ts` after changing them)', async () => {
    // Act
    const made = await portalScriptModule();
    // Assess
    expect(await readFile(PORTAL_SCRIPT_MODULE, 'utf8')).toBe(made);
    expect(made).not.toMatch(/https?:\/\//);
  });
});
