/**
 * Where each node of the lineage graph stands: columns by depth (what a node reads stands to its left), and
 * an order within each column that keeps edges short and uncrossed where it can. The layered drawing of
 * Sugiyama et al., in the small: longest-path layering, then sweeps of the barycentre heuristic. A catalog
 * holds tens of nodes, not thousands, so the simple forms are enough and their result is easy to predict.
 */

export interface LayoutEdge {
  readonly from: string;
  readonly to: string;
}

export interface Placed {
  /** Column, from 0 (reads nothing the graph holds). */
  readonly layer: number;
  /** Row within the column, from 0. */
  readonly row: number;
}

/**
 * A node's column: one past the deepest of what it reads. An edge that would close a cycle (validate refuses
 * them, but a page must still draw what it is given) is ignored, so every node gets a column.
 */
function layers(ids: readonly string[], edges: readonly LayoutEdge[]): Map<string, number> {
  const inputs = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of edges) if (inputs.has(e.from) && inputs.has(e.to)) inputs.get(e.to)!.push(e.from);
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (id: string): number => {
    const known = layer.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return -1;
    visiting.add(id);
    const d = Math.max(-1, ...inputs.get(id)!.map(depth)) + 1;
    visiting.delete(id);
    layer.set(id, d);
    return d;
  };
  for (const id of ids) depth(id);
  return layer;
}

/** The mean row of a node's neighbours in the column beside it; undefined with none. */
function barycentre(neighbours: readonly string[], rowOf: ReadonlyMap<string, number>): number | undefined {
  const rows = neighbours.map((n) => rowOf.get(n)).filter((r): r is number => r !== undefined);
  return rows.length === 0 ? undefined : rows.reduce((a, b) => a + b, 0) / rows.length;
}

/** Sweeps each way this many times: enough for a catalog's graph to settle. */
const SWEEPS = 4;

/** Every node's column and row. Nodes start in the order given (by name), so the drawing is the same each time. */
export function layoutGraph(ids: readonly string[], edges: readonly LayoutEdge[]): Map<string, Placed> {
  const layer = layers(ids, edges);
  // Longest-path columns have no gap: a node in column d reads one in column d − 1.
  const columns: string[][] = Array.from({ length: Math.max(0, ...layer.values()) + 1 }, () => []);
  for (const id of ids) columns[layer.get(id)!]!.push(id);
  const before = new Map<string, string[]>(ids.map((id) => [id, []]));
  const after = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of edges) {
    before.get(e.to)?.push(e.from);
    after.get(e.from)?.push(e.to);
  }
  const rowOf = new Map<string, number>();
  const number = (column: readonly string[]) => {
    for (const [row, id] of column.entries()) rowOf.set(id, row);
  };
  for (const column of columns) number(column);
  const reorder = (column: string[], side: ReadonlyMap<string, string[]>) => {
    // A node with no neighbour on that side keeps its place: its current row is its key.
    const key = new Map(column.map((id, i) => [id, barycentre(side.get(id)!, rowOf) ?? i]));
    column.sort((a, b) => key.get(a)! - key.get(b)! || rowOf.get(a)! - rowOf.get(b)!);
    number(column);
  };
  for (let s = 0; s < SWEEPS; s++) {
    for (let l = 1; l < columns.length; l++) reorder(columns[l]!, before);
    for (let l = columns.length - 2; l >= 0; l--) reorder(columns[l]!, after);
  }
  return new Map(ids.map((id) => [id, { layer: layer.get(id)!, row: rowOf.get(id)! }]));
}
