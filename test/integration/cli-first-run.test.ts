import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliHome, cliEngines, LONG } from '../helpers/cli.ts';

describe.each(cliEngines())('the first run, through the command line, on $name', (engine) => {
  const homes: CliHome[] = [];
  const caches: string[] = [];
  afterAll(async () => {
    for (const h of homes) await h.close();
    for (const c of caches) await rm(c, { recursive: true, force: true });
  });

  it('says what it does while the embedded database is created, on stderr only, and once', LONG, async () => {
    // Prepare: a new home, as a newcomer's first command finds it (the image made by the global setup).
    const h = await engine.setup();
    homes.push(h);

    // Act: the same command twice, for a script (--json), with stderr not a terminal.
    const first = await h.run(['--json', 'runs']);
    const second = await h.run(['--json', 'runs']);

    // Assess: stdout is the JSON and nothing else, both times.
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual([]);
    expect(JSON.parse(second.stdout)).toEqual([]);
    expect(second.stderr).not.toMatch(/creating the embedded database/);
    if (engine.name === 'pglite') {
      // One plain line where there is no terminal, then how long it took; nothing the second time.
      expect(first.stderr).toMatch(
        /^creating the embedded database in \S+ from its prepared image \(first run only\)\ncreated the embedded database in \d+\.\d s\n$/,
      );
      expect(first.stderr).toContain(h.home);
    } else {
      // A server needs no creating: nothing to say.
      expect(first.stderr).toBe('');
    }
  });

  it.runIf(engine.name === 'pglite')(
    'prepares the image on the first run of an installed version, the next new home copies it, and prepare finds it',
    LONG,
    async () => {
      // Prepare: an empty cache, as on a machine that never ran this version.
      const cache = await mkdtemp(join(tmpdir(), 'strata-cache-'));
      caches.push(cache);
      const env = { XDG_CACHE_HOME: cache };
      const [a, b] = [await engine.setup(), await engine.setup()];
      homes.push(a, b);

      // Act
      const first = await a.run(['--json', 'runs'], { env });
      const next = await b.run(['--json', 'runs'], { env });

      // Assess: the first says it prepares the image and where; the image is then in that cache, whole
      // (no temporary file left), and the next home is made from it.
      expect(first.code).toBe(0);
      expect(first.stderr).toMatch(
        /^creating the embedded database in \S+ \(first run of this version: preparing its image in \S+, about 15 s\)\ncreated the embedded database in \d+\.\d s\n$/,
      );
      expect(first.stderr).toContain(join(cache, 'strata'));
      const files = await readdir(join(cache, 'strata'));
      expect(files.filter((f) => f.startsWith('pglite-'))).toEqual([
        expect.stringMatching(/^pglite-[\d.]+-postgis-[\d.]+-[0-9a-f]{16}\.tar\.gz$/),
      ]);
      expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
      expect(next.code).toBe(0);
      expect(next.stderr).toMatch(/from its prepared image \(first run only\)/);

      // And `strata prepare` (what npm ci runs) finds that image rather than making another.
      const prepared = await a.run(['--json', 'prepare'], { env });
      expect(prepared.code).toBe(0);
      const image = join(cache, 'strata', files.find((f) => f.startsWith('pglite-'))!);
      expect(JSON.parse(prepared.stdout)).toEqual({
        image,
        made: false,
        cached: true,
        seconds: expect.any(Number),
      });
    },
  );

  it.runIf(engine.name === 'pglite')(
    'makes the image at install (npm ci runs bin/postinstall.mjs), so the first run only copies it',
    LONG,
    async () => {
      // Prepare: an empty cache, as on a machine where npm ci has just installed this version.
      const cache = await mkdtemp(join(tmpdir(), 'strata-cache-'));
      caches.push(cache);
      const env = { ...process.env, XDG_CACHE_HOME: cache };
      const h = await engine.setup();
      homes.push(h);

      // Act: what npm ci runs after installing (package.json's postinstall), then a new home's first command.
      const root = fileURLToPath(new URL('../../', import.meta.url));
      const scripts = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).scripts;
      expect(scripts.postinstall).toBe('node bin/postinstall.mjs');
      // It exits 0 whatever happens (an install never fails for it): what it says is the proof.
      const installed = await promisify(execFile)(process.execPath, [join(root, 'bin/postinstall.mjs')], {
        env,
      });
      const first = await h.run(['--json', 'runs'], { env: { XDG_CACHE_HOME: cache } });

      // Assess: the image was made in the cache, and the first run copied it rather than making one.
      const line = /^prepared image (\S+) made in \d+\.\d s$/m.exec(installed.stderr);
      expect(line?.[1]?.startsWith(join(cache, 'strata', 'pglite-'))).toBe(true);
      expect(await readdir(join(cache, 'strata'))).toContain(basename(line![1]!));
      expect(first.code).toBe(0);
      expect(first.stderr).toMatch(/from its prepared image \(first run only\)/);
    },
  );
});
