import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * A path inside Strata's own package (`sql/`, the bundled `catalog/`), found by walking up to the nearest
 * package.json from this module. Relative URLs would break once the code is bundled into `dist/`, where a
 * module no longer sits at its source path.
 */
export function packagePath(...parts: string[]): string {
  if (!root) {
    let dir = dirname(fileURLToPath(import.meta.url));
    while (!existsSync(join(dir, 'package.json'))) {
      const up = dirname(dir);
      if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
      dir = up;
    }
    root = dir;
  }
  return join(root, ...parts);
}
