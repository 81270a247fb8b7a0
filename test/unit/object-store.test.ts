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
