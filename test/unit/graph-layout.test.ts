import { describe, expect, it } from 'vitest';
import { layoutGraph } from '../../runtime/console/graph-layout.ts';

const edges = (...pairs: string[]) =>
  pairs.map((p) => {
    const [from, to] = p.split('>') as [string, string];
    return { from, to };
  });

/** Pairs of edges between the same two columns that cross, as drawn. */
function crossings(placed: ReturnType<typeof layoutGraph>, es: { from: string; to: string }[]): number {
  let n = 0;
  for (const a of es)
    for (const b of es) {
      const [a1, a2, b1, b2] = [
        placed.get(a.from)!,
        placed.get(a.to)!,
        placed.get(b.from)!,
        placed.get(b.to)!,
      ];
      if (a1.layer !== b1.layer || a2.layer !== b2.layer) continue;
      if (a1.row < b1.row && a2.row > b2.row) n++;
    }
  return n;
}

describe('the lineage graph layout', () => {
  it('puts each node one column after the deepest thing it reads (a diamond and a longer path)', () => {
    const es = edges('a>b', 'a>c', 'b>d', 'c>d', 'd>e', 'a>e');
    const placed = layoutGraph(['a', 'b', 'c', 'd', 'e'], es);
    expect(Object.fromEntries([...placed].map(([id, p]) => [id, p.layer]))).toEqual({
      a: 0,
      b: 1,
      c: 1,
      d: 2,
      e: 3,
    });
  });

  it('orders rows so that edges between two columns do not cross where they need not', () => {
    // Given in the order that crosses every pair: x1 feeds y3, x2 feeds y2, x3 feeds y1.
    const es = edges('x1>y3', 'x2>y2', 'x3>y1');
    const placed = layoutGraph(['x1', 'x2', 'x3', 'y1', 'y2', 'y3'], es);
    expect(crossings(placed, es)).toBe(0);
    // Rows in a column are 0..n-1, each once.
    expect(['y1', 'y2', 'y3'].map((id) => placed.get(id)!.row).sort()).toEqual([0, 1, 2]);
  });

  it('draws a graph with a cycle rather than loop forever (validate refuses them; the page must not hang)', () => {
    const placed = layoutGraph(['a', 'b'], edges('a>b', 'b>a'));
    expect(placed.size).toBe(2);
    expect(new Set([...placed.values()].map((p) => p.layer)).size).toBe(2);
  });

  it('keeps nodes without edges in the first column, in the order given', () => {
    const placed = layoutGraph(['m', 'k', 'z'], []);
    expect([...placed].map(([id, p]) => [id, p.layer, p.row])).toEqual([
      ['m', 0, 0],
      ['k', 0, 1],
      ['z', 0, 2],
    ]);
  });
});
