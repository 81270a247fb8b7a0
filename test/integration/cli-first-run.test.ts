import { afterAll, describe, expect, it } from 'vitest';
import { type CliHome, cliEngines, LONG } from '../helpers/cli.ts';

describe.each(cliEngines())('the first run, through the command line, on $name', (engine) => {
  const homes: CliHome[] = [];
  afterAll(async () => {
    for (const h of homes) await h.close();
  });

  it(
    'says why it is slow while the embedded database is created, on stderr only, and once',
    LONG,
    async () => {
      // Prepare: a new home, as a newcomer's first command finds it.
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
          /^creating the embedded database in \S+ \(first run only, about 15 s\)\ncreated the embedded database in \d+\.\d s\n$/,
        );
        expect(first.stderr).toContain(h.home);
      } else {
        // A server needs no creating: nothing to say.
        expect(first.stderr).toBe('');
      }
    },
  );
});
