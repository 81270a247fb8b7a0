import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    'prepares the image on the first run of an installed version, and the next new home copies it',
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
    },
  );
});
