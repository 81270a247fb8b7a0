import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { imageName, preparedImage } from '../../runtime/adapters/local/pglite-image.ts';
import { userCacheDir } from '../../runtime/util/user-cache.ts';
import type { Action, GlobalOptions } from './context.ts';
import { printJson, say } from './output.ts';

/**
 * `strata prepare`: the embedded database's prepared image for this installed version, made now rather
 * than by the first command that needs a new home. `npm ci` runs it (bin/postinstall.mjs), so the demo's
 * first run copies an image instead of spending 15–25 s making one.
 */
export function registerPrepareCommand(program: Command, globals: () => GlobalOptions, action: Action): void {
  program
    .command('prepare')
    .description(
      "make the embedded database's prepared image for this version (PostGIS and every migration applied) in the user cache, so a new home is a copy of it; npm ci runs it, and a first run does it when it was not run",
    )
    .action(
      action(async () => {
        const cacheDir = userCacheDir();
        const path = join(cacheDir, await imageName({ cacheDir }));
        const there = existsSync(path);
        const started = performance.now();
        if (!there && !globals().json)
          say(`preparing the embedded database's image in ${cacheDir} (15–25 s, once per version)`);
        await preparedImage({ cacheDir });
        const seconds = Number(((performance.now() - started) / 1000).toFixed(1));
        // Where the cache cannot be written the image was made in memory and is gone: say so, it is not an error.
        const cached = existsSync(path);
        if (globals().json) printJson({ image: path, made: !there, cached, seconds });
        else if (!cached)
          say(`the cache ${cacheDir} cannot be written: each new home will make its database (slower)`);
        else
          say(
            there
              ? `prepared image ${path} is there already`
              : `prepared image ${path} made in ${seconds.toFixed(1)} s`,
          );
        return undefined;
      }),
    );
}
