import { describe, expect, it } from 'vitest';
import {
  CHANGES_FORMAT,
  CHANGES_RETENTION_VERSIONS,
  type ChangeFeedHeader,
  type ChangeLine,
  changePage,
  compose,
  type FeedSource,
  feedChain,
} from '../../runtime/features/changes.ts';

/** Feeds in memory: version `v<n>` changes from `v<n-1>`, its lines as given. */
function feeds(spec: Record<string, ChangeLine[]>): FeedSource & { reads: number } {
  const files = new Map<string, { header: ChangeFeedHeader; bytes: Buffer }>();
  for (const [to, lines] of Object.entries(spec)) {
    const bytes = Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    const from = `v${Number(to.slice(1)) - 1}`;
    const count = (s: string) => lines.filter((l) => l.s === s).length;
    files.set(to, {
      header: {
        format: CHANGES_FORMAT,
        product: 'p',
        output: 'o',
        from,
        to,
        key: ['id'],
        counts: { added: count('added'), changed: count('changed'), removed: count('removed') },
        lines: { key: to, size: bytes.length, sha256: '' },
        keys: { key: to, size: 0 },
      },
      bytes,
    });
  }
  const source = {
    reads: 0,
    header: async (v: string) => files.get(v)?.header,
    keys: async (f: ChangeFeedHeader) => new Map(spec[f.to]!.map((l) => [l.k, l.s])),
    range: async (f: ChangeFeedHeader, start: number, end: number) => {
      source.reads++;
      return files.get(f.to)!.bytes.subarray(start, end);
    },
  };
  return source;
}

const feature = (id: number, extra: Record<string, unknown> = {}) => ({
  type: 'Feature',
  properties: { id, ...extra },
  geometry: { type: 'Point', coordinates: [id, id] },
});
const upsert = (id: number, s: 'added' | 'changed', extra?: Record<string, unknown>): ChangeLine => ({
  k: String(id),
  s,
  f: feature(id, extra),
});
const removed = (id: number): ChangeLine => ({ k: String(id), s: 'removed', key: id });

describe('change feeds composed across versions', () => {
  it('keeps each key once in its last state, tells added from changed at since, and leaves out what came and went', async () => {
    const source = feeds({
      v2: [upsert(1, 'changed', { n: 'a' }), upsert(5, 'added'), removed(2), removed(3)],
      v3: [upsert(1, 'changed', { n: 'b' }), upsert(2, 'added'), removed(5)],
    });
    const chain = await feedChain(source, 'v1', 'v3');
    if (!('feeds' in chain)) throw new Error(chain.notCovered);
    const c = await compose(source, chain.feeds);
    const page = await changePage(source, chain.feeds, c, { i: 0, o: 0 }, 100, 1 << 20);
    expect(page.features.map((f) => [(f.properties as { id: number }).id, f.change])).toEqual([
      [1, 'changed'],
      // Removed in v2, back in v3: it was there at v1, so changed.
      [2, 'changed'],
    ]);
    expect((page.features[0]!.properties as { n: string }).n).toBe('b');
    expect(page.removed).toEqual([3]);
    expect(c.matched).toBe(3);
    expect(page.next).toBeUndefined();
  });

  it('pages by limit and by bytes, and reads a line longer than a range read whole', async () => {
    const long = 'x'.repeat(600_000);
    const source = feeds({ v2: [upsert(1, 'added'), upsert(2, 'added', { long }), upsert(3, 'added')] });
    const chain = await feedChain(source, 'v1', 'v2');
    if (!('feeds' in chain)) throw new Error(chain.notCovered);
    const c = await compose(source, chain.feeds);
    const ids: number[] = [];
    let at: { i: number; o: number } | undefined = { i: 0, o: 0 };
    let pages = 0;
    while (at) {
      const page = await changePage(source, chain.feeds, c, at, 10, 1000);
      ids.push(...page.features.map((f) => (f.properties as { id: number }).id));
      at = page.next;
      pages++;
    }
    expect(ids).toEqual([1, 2, 3]);
    // The 600 kB line ends its page, whatever the limit.
    expect(pages).toBe(2);
  });

  it('says why a since is not covered: no feed at a version, or further back than it composes', async () => {
    const source = feeds({ v2: [upsert(1, 'added')], v3: [upsert(1, 'changed')] });
    expect(await feedChain(source, 'v0', 'v3')).toEqual({
      notCovered: expect.stringMatching(/feed stops at version v1.*v0 is not a version it reaches/),
    });
    expect(await feedChain(source, 'v1', 'v4')).toEqual({
      notCovered: expect.stringMatching(/version v4 has no change feed/),
    });
    const many = feeds(
      Object.fromEntries(
        Array.from({ length: CHANGES_RETENTION_VERSIONS + 1 }, (_, i) => [
          `v${i + 2}`,
          [upsert(1, 'changed')],
        ]),
      ),
    );
    const far = await feedChain(many, 'v1', `v${CHANGES_RETENTION_VERSIONS + 2}`);
    expect(far).toEqual({ notCovered: expect.stringMatching(/more than 100 versions behind/) });
    expect(await feedChain(many, 'v2', `v${CHANGES_RETENTION_VERSIONS + 2}`)).toHaveProperty('feeds');
  });
});
