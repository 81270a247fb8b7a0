import { describe, expect, it } from 'vitest';
import { prng } from '../../bench/data.ts';
import { compareDecimal, diffing, LineSplitter, RowListDiff } from '../../runtime/qa/rows.ts';

const bigint = (r: () => number): bigint =>
  BigInt.asIntN(64, (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)));

async function* pieces(text: string, size: number): AsyncGenerator<Buffer> {
  const buf = Buffer.from(text);
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** A row list as PostgreSQL writes it: key hash, row hash, key as JSON, sorted by the hashes as bigints. */
function rowList(rows: Map<bigint, { hash: bigint; key: unknown }>): string {
  return `${[...rows]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}\t${v.hash}\t${JSON.stringify(v.key)}`)
    .join('\n')}\n`;
}

describe('compareDecimal', () => {
  it('orders signed 64-bit integers written in decimal as PostgreSQL orders them', () => {
    // Prepare
    const r = prng(7);
    const values = [
      ...Array.from({ length: 400 }, () => bigint(r)),
      0n,
      -1n,
      1n,
      -(2n ** 63n),
      2n ** 63n - 1n,
      -10n,
      -9n,
      9n,
      10n,
    ];
    // Act
    const byStrings = values.map(String).sort(compareDecimal);
    // Assess
    const byValues = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);
    expect(byStrings).toEqual(byValues);
    // A null integer key comes last, as PostgreSQL sorts nulls.
    expect(['null', '5', '-7', 'null'].sort(compareDecimal)).toEqual(['-7', '5', 'null', 'null']);
  });
});

describe('LineSplitter', () => {
  it.each([1, 2, 3, 5, 64])(
    'never cuts a line or a character, whatever the chunk size (%i bytes)',
    async (size) => {
      const text = 'ünï\t"日本"\n-12\t34\n\n✓ last';
      const splitter = new LineSplitter();
      const lines: string[] = [];
      for await (const chunk of pieces(text, size)) lines.push(...splitter.push(chunk));
      lines.push(...splitter.end());
      expect(lines).toEqual(['ünï\t"日本"', '-12\t34', '', '✓ last']);
    },
  );
});

describe('RowListDiff', () => {
  it('agrees with a diff by key done in memory, on random versions, whatever the read sizes', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      // Prepare: a previous version, and a next one with rows removed, added and changed.
      const r = prng(seed);
      const before = new Map<bigint, { hash: bigint; key: unknown }>();
      for (let i = 0; i < 2000; i++) before.set(bigint(r), { hash: bigint(r), key: i });
      const after = new Map(before);
      const expected = { added: 0, removed: 0, changed: 0 };
      for (const k of [...before.keys()]) {
        const x = r();
        if (x < 0.05) {
          after.delete(k);
          expected.removed++;
        } else if (x < 0.15) {
          after.set(k, { hash: bigint(r), key: before.get(k)!.key });
          expected.changed++;
        }
      }
      for (let i = 0; i < 150; i++) after.set(bigint(r), { hash: bigint(r), key: `new ${i}` });
      expected.added = 150;
      const diff = new RowListDiff(pieces(rowList(before), 1 + Math.floor(r() * 5000)), {
        compareValues: true,
        keyed: true,
        maxMarks: 100_000,
        maxRemovedKeys: 3,
      });
      // Act
      let passed = '';
      for await (const chunk of diffing(pieces(rowList(after), 1 + Math.floor(r() * 5000)), diff))
        passed += chunk.toString();
      const result = await diff.finish();
      // Assess
      expect(passed).toBe(rowList(after));
      expect(result).toMatchObject({ ...expected, rows: after.size, duplicateKeys: 0 });
      expect(result.matched).toBe(before.size - expected.removed);
      const marked = new Set(result.marks.map((m) => `${m.status} ${m.key}`));
      for (const [k, v] of after) {
        const was = before.get(k);
        if (!was) expect(marked.has(`added ${k}`)).toBe(true);
        else if (was.hash !== v.hash) expect(marked.has(`changed ${k}`)).toBe(true);
      }
      expect(marked.size).toBe(expected.added + expected.changed);
      expect(result.removedKeys).toHaveLength(3);
      for (const key of result.removedKeys) expect(typeof key).toBe('number');
    }
  });

  it('compares whole rows when there is no key: a changed row is one removed and one added', async () => {
    const diff = new RowListDiff(pieces('-5\n1\n1\n7\n', 2), {
      compareValues: true,
      keyed: false,
      maxMarks: 10,
      maxRemovedKeys: 10,
    });
    await diff.push(['-5', '1', '3', '7']);
    expect(await diff.finish()).toMatchObject({
      rows: 4,
      added: 1,
      removed: 1,
      matched: 3,
      changed: 0,
      duplicateKeys: 0,
    });
  });

  it('counts rows that share a key, in either version', async () => {
    const diff = new RowListDiff(pieces('1\t10\t1\n1\t11\t1\n2\t20\t2\n', 4), {
      compareValues: true,
      keyed: true,
      maxMarks: 10,
      maxRemovedKeys: 10,
    });
    await diff.push(['1\t10\t1', '2\t20\t2', '2\t21\t2']);
    expect(await diff.finish()).toMatchObject({
      matched: 2,
      added: 1,
      removed: 1,
      duplicateKeys: 2,
      changed: 0,
    });
  });

  it('matches by key only, with no changed rows, when values are not comparable', async () => {
    const diff = new RowListDiff(pieces('1\t10\t1\n2\t20\t2\n', 3), {
      compareValues: false,
      keyed: true,
      maxMarks: 10,
      maxRemovedKeys: 10,
    });
    await diff.push(['1\t99\t1', '2\t98\t2']);
    expect(await diff.finish()).toMatchObject({ matched: 2, changed: 0, marks: [] });
  });

  it('only counts rows when there is nothing to compare with', async () => {
    const diff = new RowListDiff(undefined, {
      compareValues: true,
      keyed: true,
      maxMarks: 10,
      maxRemovedKeys: 10,
    });
    await diff.push(['1\t10\t1', '2\t20\t2']);
    expect(await diff.finish()).toMatchObject({ rows: 2, added: 0, removed: 0, matched: 0, marks: [] });
  });
});
