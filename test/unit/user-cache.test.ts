import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cachedFile, userCacheDir } from '../../runtime/util/user-cache.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('the user cache', () => {
  it('lives under XDG_CACHE_HOME when set, else ~/.cache', () => {
    expect(userCacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/strata');
    expect(userCacheDir({})).toMatch(/\/\.cache\/strata$/);
  });

  it('ends with one whole file when two make it at once, and none half-written left behind', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'strata-cache-'));
    dirs.push(dir);
    let makes = 0;
    const make = async () => {
      makes++;
      return new Uint8Array(1 << 20).fill(7);
    };

    // Act: both find nothing and make it.
    const [a, b] = await Promise.all([cachedFile(dir, 'thing', make), cachedFile(dir, 'thing', make)]);
    const again = await cachedFile(dir, 'thing', make);

    // Assess
    expect(makes).toBe(2);
    expect(a.path).toBe(join(dir, 'thing'));
    expect(b.path).toBe(a.path);
    expect(await readdir(dir)).toEqual(['thing']);
    expect((await readFile(a.path!)).equals(Buffer.alloc(1 << 20, 7))).toBe(true);
    expect(again).toEqual({ path: a.path });
  });

  it('hands back what it made, with no path, where the cache cannot be written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-cache-'));
    dirs.push(dir);
    await writeFile(join(dir, 'file'), '');

    const result = await cachedFile(join(dir, 'file', 'cache'), 'thing', async () => new Uint8Array([1, 2]));

    expect(result).toEqual({ made: new Uint8Array([1, 2]) });
  });
});
