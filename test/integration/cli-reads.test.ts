import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writePlacesCatalog } from '../helpers/catalog.ts';
import { type CliHome, cliEngines, freePort, LONG, startCli, until } from '../helpers/cli.ts';

const READS = [
  ['show', 'summary'],
  ['--json', 'show', 'summary'],
  ['versions', 'summary'],
  ['--json', 'versions', 'summary'],
  ['versions', 'places'],
  ['--json', 'versions', 'places'],
  ['runs'],
  ['--json', 'runs', '--limit', '3'],
  ['runs', '--target', 'places', '--status', 'failed'],
];

describe.each(cliEngines())('read commands through the command line, on $name', (engine) => {
  const homes: CliHome[] = [];
  const stops: (() => void)[] = [];
  afterAll(async () => {
    for (const stop of stops) stop();
    for (const h of homes) await h.close();
  });

  // One after another: the embedded database admits one process at a time.
  const each = async <T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> => {
    const out: R[] = [];
    for (const item of items) out.push(await fn(item));
    return out;
  };

  it('answer from the archive, egress or a running serve exactly as the database does', LONG, async () => {
    // Prepare: two versions of a dataset and a product built from them, through the command line.
    const h = await engine.setup();
    homes.push(h);
    const catalog = join(h.home, 'catalog');
    await writePlacesCatalog(catalog, 'counted');
    const strata = (args: readonly string[], reads: 'fast' | 'database') =>
      h.run(['--catalog', catalog, ...args], { env: { STRATA_READS: reads } });
    const file = async (name: string, text: string) => {
      await writeFile(join(h.home, name), text);
      return join(h.home, name);
    };
    for (const [args, code] of [
      [['ingest', 'places', await file('a.csv', 'id,name\n1,Lyon\n')], 0],
      [['ingest', 'places', await file('b.csv', 'id,name\n1,Lyon\n2,Oslo\n')], 0],
      [['build', 'summary'], 0],
    ] as const)
      expect((await strata(args, 'database')).code, args.join(' ')).toBe(code);

    // Act 1: the fast way only (no serve is running), and the database's way for what the files answer.
    const fast = await each(READS, (args) => strata(args, 'fast'));
    const onlyInDatabase = (args: readonly string[]) =>
      args.includes('runs') || (engine.name === 'postgres' && args.includes('places'));
    const fromDatabase = await each(READS, (args) =>
      onlyInDatabase(args) ? Promise.resolve(undefined) : strata(args, 'database'),
    );

    // Assess 1: published and archived files answer alike; runs are only in the database (or a serve).
    for (const [i, args] of READS.entries()) {
      if (onlyInDatabase(args)) {
        expect(fast[i]!.stderr + fast[i]!.stdout, args.join(' ')).toMatch(/no fast path could answer/);
        continue;
      }
      expect(fromDatabase[i]!.code, args.join(' ')).toBe(0);
      expect(fast[i]!.stdout, args.join(' ')).toBe(fromDatabase[i]!.stdout);
      expect(fast[i]!.code, args.join(' ')).toBe(0);
    }

    // Act 2: a file the contract refuses, then a version whose record of its load is gone (as for versions
    // archived before records were kept): from then on the archive alone cannot describe the dataset.
    expect(
      (await strata(['ingest', 'places', await file('c.csv', 'id,name\nx,Rome\n')], 'database')).code,
    ).toBe(1);
    const afterRefusal = await strata(['versions', 'places'], 'fast');
    const afterFailure = await each(READS, (args) => strata(args, 'database'));
    for (const record of await recordsOfLoads(join(h.home, 'buckets', 'archive', 'datasets', 'places')))
      await rm(record);
    const versionsFast = await strata(['versions', 'places'], 'fast');

    // Assess 2: the refused file is quarantined, not a version, and the archive still answers as the
    // database does; the same column for when a version came to be, for datasets and products alike.
    expect(afterFailure[4]!.stdout.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^VERSION\s+CURRENT\s+CREATED\s+SIZE\s+SHA256\s+ROWS\s+LOADED\s+FILE\s+ORIGIN$/),
      expect.stringMatching(/\s\*\s.*\s2\s+yes\s+b\.csv\s+file$/),
      expect.stringMatching(/\s1\s+yes\s+a\.csv\s+file$/),
    ]);
    if (engine.name !== 'postgres') expect(afterRefusal.stdout).toBe(afterFailure[4]!.stdout);
    expect(afterFailure[2]!.stdout.split('\n')[0]).toMatch(/^VERSION\s+LATEST\s+CREATED\s+OUTPUTS\s+RUNID$/);
    expect(versionsFast.stderr).toMatch(/no fast path could answer \(the archive, strata serve\)/);

    // Act 3: a serve, holding the database, answers what the files cannot.
    const port = await freePort();
    const serving = startCli(
      ['--home', h.home, '--catalog', catalog, 'serve', '--port', String(port)],
      h.env,
    );
    stops.push(() => serving.child.kill('SIGKILL'));
    await until('serve to announce itself', () => existsSync(join(h.home, 'serve.json')));
    const viaServe = await each(READS, (args) => strata(args, 'fast'));
    serving.child.kill('SIGTERM');
    await until('serve to stop', () => serving.child.exitCode !== null);

    // Assess 3: the same output as the database gave, every read; the announcement is gone with it.
    for (const [i, args] of READS.entries()) {
      expect(viaServe[i]!.stdout, args.join(' ')).toBe(afterFailure[i]!.stdout);
      expect(viaServe[i]!.code, args.join(' ')).toBe(0);
    }
    expect(existsSync(join(h.home, 'serve.json'))).toBe(false);
  });
});

/** Every record of a load under a dataset's folder in the local archive (`<version>/loads/*.json`). */
async function recordsOfLoads(datasetDir: string): Promise<string[]> {
  const entries = await readdir(datasetDir, { recursive: true });
  return entries.filter((e) => /(^|\/)loads\/[^/]+\.json$/.test(e)).map((e) => join(datasetDir, e));
}
