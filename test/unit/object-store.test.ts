import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../runtime/adapters/local/fs-object-store.ts';
import { NotFoundError } from '../../runtime/errors.ts';
import { ObjectExistsError, readText } from '../../runtime/ports/object-store.ts';

describe('FsObjectStore', () => {
  let store: FsObjectStore;
  beforeEach(async () => {
    store = new FsObjectStore(await mkdtemp(join(tmpdir(), 'strata-store-')));
  });

  it('writes once and refuses to overwrite', async () => {
    await store.put(
      'archive',
      'datasets/a/v1/data.csv',
      Readable.from([Buffer.from('x,y\n'), Buffer.from('1,2\n')]),
    );
    await expect(store.put('archive', 'datasets/a/v1/data.csv', 'other')).rejects.toBeInstanceOf(
      ObjectExistsError,
    );
    expect(await readText(store, 'archive', 'datasets/a/v1/data.csv')).toBe('x,y\n1,2\n');
  });

  it('replaces a pointer only when asked', async () => {
    await store.put('egress', 'products/p/latest.json', '{"v":1}', { replace: true });
    await store.put('egress', 'products/p/latest.json', '{"v":2}', { replace: true });
    expect(await readFile(store.locate('egress', 'products/p/latest.json'), 'utf8')).toBe('{"v":2}');
  });

  it('leaves nothing behind when the source stream fails', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('disk gone'));
      },
    });
    await expect(store.put('archive', 'datasets/a/v2/data.csv', failing)).rejects.toThrow('disk gone');
    expect(await store.exists('archive', 'datasets/a/v2/data.csv')).toBe(false);
    expect(await store.list('archive', '')).toEqual([]);
  });

  it('writes a body of many batches byte for byte, and reports its size', async () => {
    // Chunks of odd sizes, several MiB in all, so batches end mid-chunk and a write is in flight while
    // the next batch is read.
    const chunks = Array.from({ length: 70 }, (_, i) =>
      Buffer.alloc(65_537 + i * 331, String.fromCharCode(97 + (i % 26))),
    );
    async function* body() {
      for (const c of chunks) {
        await new Promise((r) => setImmediate(r));
        yield c;
      }
    }
    const { size } = await store.put('egress', 'products/p/v1/big.csv', body());
    const expected = Buffer.concat(chunks);
    expect(size).toBe(expected.length);
    expect((await readFile(store.locate('egress', 'products/p/v1/big.csv'))).equals(expected)).toBe(true);
  });

  it('leaves nothing behind when a body fails after some batches were written', async () => {
    async function* body() {
      for (let i = 0; i < 5; i++) yield Buffer.alloc(700_000, 120);
      throw new Error('the database went away');
    }
    await expect(store.put('egress', 'products/p/v1/out.csv', body())).rejects.toThrow(
      'the database went away',
    );
    expect(await store.exists('egress', 'products/p/v1/out.csv')).toBe(false);
    expect(await store.list('egress', '')).toEqual([]);
  });

  it('lists keys under a prefix, sorted, and never the temporary folder', async () => {
    for (const k of ['datasets/b/2/f', 'datasets/a/1/f', 'datasets/ab/1/f', 'other/x'])
      await store.put('archive', k, k);
    expect((await store.list('archive', 'datasets/a/')).map((o) => o.key)).toEqual(['datasets/a/1/f']);
    expect((await store.list('archive', 'datasets/')).map((o) => o.key)).toEqual([
      'datasets/a/1/f',
      'datasets/ab/1/f',
      'datasets/b/2/f',
    ]);
  });

  it('refuses keys that escape the bucket, and says what is missing', async () => {
    await expect(store.put('archive', '../etc/passwd', 'x')).rejects.toThrow(/invalid object key/);
    await expect(store.get('archive', 'nope')).rejects.toBeInstanceOf(NotFoundError);
  });
});
