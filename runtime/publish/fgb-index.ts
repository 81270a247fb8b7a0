/**
 * FlatGeobuf's packed Hilbert R-tree, built from the features' boxes alone: 40 bytes a feature (its box
 * and where it starts in the work file) in typed arrays, never the features themselves.
 */
import { levelBounds } from '../features/flatgeobuf.ts';

export const NODE_SIZE = 16;
const NODE_BYTES = 40;
/** Features a block of the typed arrays holds: they grow a block at a time, never copied to grow. */
const BLOCK = 1 << 16;
const HILBERT_MAX = (1 << 16) - 1;
/** Leaves a chunk of the index is written in (320 KB): small, so those not yet collected weigh little. */
const LEAF_CHUNK = 8192;

/** Every feature's box and its offset in the work file, in the order they were written. */
export class FeatureBoxes {
  count = 0;
  /** The work file's length once every feature is written: where the last feature ends. */
  end = 0;
  readonly extent = [Infinity, Infinity, -Infinity, -Infinity];
  private readonly boxes: Float64Array[] = [];
  private readonly offsets: Float64Array[] = [];

  add(from: Float64Array, offset: number): void {
    const minX = from[0]!;
    const minY = from[1]!;
    const maxX = from[2]!;
    const maxY = from[3]!;
    const b = this.count >>> 16;
    const i = this.count & (BLOCK - 1);
    if (i === 0) {
      this.boxes.push(new Float64Array(BLOCK * 4));
      this.offsets.push(new Float64Array(BLOCK));
    }
    const box = this.boxes[b]!;
    box[i * 4] = minX;
    box[i * 4 + 1] = minY;
    box[i * 4 + 2] = maxX;
    box[i * 4 + 3] = maxY;
    this.offsets[b]![i] = offset;
    const e = this.extent;
    if (minX < e[0]!) e[0] = minX;
    if (minY < e[1]!) e[1] = minY;
    if (maxX > e[2]!) e[2] = maxX;
    if (maxY > e[3]!) e[3] = maxY;
    this.count++;
  }

  /** The box of feature `f` into `out` at `at`. */
  box(f: number, out: Float64Array, at: number): void {
    const box = this.boxes[f >>> 16]!;
    const i = (f & (BLOCK - 1)) * 4;
    out[at] = box[i]!;
    out[at + 1] = box[i + 1]!;
    out[at + 2] = box[i + 2]!;
    out[at + 3] = box[i + 3]!;
  }

  /** Widens the box at `acc[at..at + 4]` to take in feature `f`'s. */
  widen(f: number, acc: Float64Array, at: number): void {
    const box = this.boxes[f >>> 16]!;
    const i = (f & (BLOCK - 1)) * 4;
    if (box[i]! < acc[at]!) acc[at] = box[i]!;
    if (box[i + 1]! < acc[at + 1]!) acc[at + 1] = box[i + 1]!;
    if (box[i + 2]! > acc[at + 2]!) acc[at + 2] = box[i + 2]!;
    if (box[i + 3]! > acc[at + 3]!) acc[at + 3] = box[i + 3]!;
  }

  /** Bytes of feature `f`; once sorted, of the feature at position `f` in the index's order. */
  size(f: number): number {
    if (this.sorted) return this.offsets[f >>> 16]![f & (BLOCK - 1)]!;
    const next = f + 1 < this.count ? this.offsets[(f + 1) >>> 16]![(f + 1) & (BLOCK - 1)]! : this.end;
    return next - this.offsets[f >>> 16]![f & (BLOCK - 1)]!;
  }

  private sorted = false;

  /** Lets the boxes go (the sizes stay): once the index is written, only the features remain to copy. */
  dropBoxes(): void {
    this.boxes.length = 0;
  }

  /**
   * Sorts the features along the Hilbert curve through their boxes' centres (in the extent, 16 bits each
   * way, from the curve's end, as GDAL's writer does), ties in the order they were written. Returns the
   * order (position → feature); from then on `box` and `size` take a position, so the index is made
   * reading the boxes front to back, not once at random for each of its levels and once for its leaves.
   */
  sortByHilbert(): Uint32Array {
    const order = this.hilbertOrder();
    // Offsets become sizes, then boxes and sizes move into the order, each cycle of it followed once.
    for (let f = 0; f < this.count; f++) this.offsets[f >>> 16]![f & (BLOCK - 1)] = this.size(f);
    this.sorted = true;
    const done = new Uint8Array(this.count);
    const box = new Float64Array(4);
    for (let k = 0; k < this.count; k++) {
      if (done[k]) continue;
      this.box(k, box, 0);
      const size = this.size(k);
      for (let j = k; ; ) {
        done[j] = 1;
        const from = order[j]!;
        if (from === k) {
          this.put(j, box, 0, size);
          break;
        }
        this.put(j, this.boxes[from >>> 16]!, (from & (BLOCK - 1)) * 4, this.size(from));
        j = from;
      }
    }
    return order;
  }

  private put(f: number, src: Float64Array, at: number, size: number): void {
    const box = this.boxes[f >>> 16]!;
    const i = (f & (BLOCK - 1)) * 4;
    box[i] = src[at]!;
    box[i + 1] = src[at + 1]!;
    box[i + 2] = src[at + 2]!;
    box[i + 3] = src[at + 3]!;
    this.offsets[f >>> 16]![f & (BLOCK - 1)] = size;
  }

  private hilbertOrder(): Uint32Array {
    const n = this.count;
    // hilbert << 32 | feature, sorted as 64-bit integers: a typed array's own sort, no comparator.
    const keys = new BigUint64Array(n);
    const halves = new Uint32Array(keys.buffer);
    const [minX, minY, maxX, maxY] = this.extent as [number, number, number, number];
    const sx = maxX > minX ? HILBERT_MAX / (maxX - minX) : 0;
    const sy = maxY > minY ? HILBERT_MAX / (maxY - minY) : 0;
    for (let f = 0; f < n; f++) {
      const box = this.boxes[f >>> 16]!;
      const i = (f & (BLOCK - 1)) * 4;
      const x = Math.floor(sx * ((box[i]! + box[i + 2]!) / 2 - minX));
      const y = Math.floor(sy * ((box[i + 1]! + box[i + 3]!) / 2 - minY));
      // Little-endian: the low half first. Descending along the curve, as GDAL orders them.
      halves[f * 2] = f;
      halves[f * 2 + 1] = 0xffffffff - hilbert(x, y);
    }
    keys.sort();
    const order = new Uint32Array(n);
    for (let k = 0; k < n; k++) order[k] = halves[k * 2]!;
    return order;
  }
}

/** The position of (x, y), each 0..65535, along a Hilbert curve (from "Fast Hilbert curve generation", public domain). */
export function hilbert(x: number, y: number): number {
  let a = x ^ y;
  let b = 0xffff ^ a;
  let c = 0xffff ^ (x | y);
  let d = x & (y ^ 0xffff);
  let A = a | (b >> 1);
  let B = (a >> 1) ^ a;
  let C = (c >> 1) ^ (b & (d >> 1)) ^ c;
  let D = (a & (c >> 1)) ^ (d >> 1) ^ d;
  a = A;
  b = B;
  c = C;
  d = D;
  A = (a & (a >> 2)) ^ (b & (b >> 2));
  B = (a & (b >> 2)) ^ (b & ((a ^ b) >> 2));
  C ^= (a & (c >> 2)) ^ (b & (d >> 2));
  D ^= (b & (c >> 2)) ^ ((a ^ b) & (d >> 2));
  a = A;
  b = B;
  c = C;
  d = D;
  A = (a & (a >> 4)) ^ (b & (b >> 4));
  B = (a & (b >> 4)) ^ (b & ((a ^ b) >> 4));
  C ^= (a & (c >> 4)) ^ (b & (d >> 4));
  D ^= (b & (c >> 4)) ^ ((a ^ b) & (d >> 4));
  a = A;
  b = B;
  c = C;
  d = D;
  C ^= (a & (c >> 8)) ^ (b & (d >> 8));
  D ^= (b & (c >> 8)) ^ ((a ^ b) & (d >> 8));
  a = C ^ (C >> 1);
  b = D ^ (D >> 1);
  let i0 = x ^ y;
  let i1 = b | (0xffff ^ (i0 | a));
  i0 = (i0 | (i0 << 8)) & 0x00ff00ff;
  i0 = (i0 | (i0 << 4)) & 0x0f0f0f0f;
  i0 = (i0 | (i0 << 2)) & 0x33333333;
  i0 = (i0 | (i0 << 1)) & 0x55555555;
  i1 = (i1 | (i1 << 8)) & 0x00ff00ff;
  i1 = (i1 | (i1 << 4)) & 0x0f0f0f0f;
  i1 = (i1 | (i1 << 2)) & 0x33333333;
  i1 = (i1 | (i1 << 1)) & 0x55555555;
  return ((i1 << 1) | i0) >>> 0;
}

function writeNode(view: DataView, at: number, box: Float64Array, b: number, offset: number): void {
  view.setFloat64(at, box[b]!, true);
  view.setFloat64(at + 8, box[b + 1]!, true);
  view.setFloat64(at + 16, box[b + 2]!, true);
  view.setFloat64(at + 24, box[b + 3]!, true);
  // A u64 as two halves: no BigInt made for each of a million nodes.
  view.setUint32(at + 32, offset % 2 ** 32, true);
  view.setUint32(at + 36, Math.floor(offset / 2 ** 32), true);
}

/** Boxes of every node above the leaves (4 doubles a node, by node index): each the union of its children's. */
function upperBoxes(boxes: FeatureBoxes, levels: [number, number][]): Float64Array {
  const upper = new Float64Array(levels[0]![0] * 4).fill(Infinity);
  for (let node = 0; node < upper.length; node += 4) {
    upper[node + 2] = -Infinity;
    upper[node + 3] = -Infinity;
  }
  const [l1Start] = levels[1]!;
  for (let k = 0; k < boxes.count; k++) boxes.widen(k, upper, (l1Start + Math.floor(k / NODE_SIZE)) * 4);
  for (let l = 2; l < levels.length; l++) {
    const [start] = levels[l]!;
    const [childStart, childEnd] = levels[l - 1]!;
    for (let c = childStart; c < childEnd; c++) {
      const to = (start + Math.floor((c - childStart) / NODE_SIZE)) * 4;
      const from = c * 4;
      if (upper[from]! < upper[to]!) upper[to] = upper[from]!;
      if (upper[from + 1]! < upper[to + 1]!) upper[to + 1] = upper[from + 1]!;
      if (upper[from + 2]! > upper[to + 2]!) upper[to + 2] = upper[from + 2]!;
      if (upper[from + 3]! > upper[to + 3]!) upper[to + 3] = upper[from + 3]!;
    }
  }
  return upper;
}

/**
 * The index's bytes, root first and leaves last, as the format lays it out: every level above the leaves
 * at once (about a fifteenth of the index), then the leaves a block at a time. A leaf's offset is where
 * its feature starts among the features (they follow in the leaves' order); a parent's is the node index
 * of its first child.
 */
export function* treeBytes(boxes: FeatureBoxes): Generator<Buffer> {
  const levels = levelBounds(boxes.count, NODE_SIZE);
  const upper = upperBoxes(boxes, levels);
  const top = Buffer.alloc(levels[0]![0] * NODE_BYTES);
  const topView = new DataView(top.buffer, top.byteOffset, top.byteLength);
  for (let l = 1; l < levels.length; l++) {
    const [start, end] = levels[l]!;
    for (let node = start; node < end; node++)
      writeNode(topView, node * NODE_BYTES, upper, node * 4, levels[l - 1]![0] + (node - start) * NODE_SIZE);
  }
  yield top;
  yield* leafBytes(boxes);
}

function* leafBytes(boxes: FeatureBoxes): Generator<Buffer> {
  const box = new Float64Array(4);
  let offset = 0;
  for (let k = 0; k < boxes.count; k += LEAF_CHUNK) {
    const end = Math.min(boxes.count, k + LEAF_CHUNK);
    const chunk = Buffer.allocUnsafe((end - k) * NODE_BYTES);
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let j = k; j < end; j++) {
      boxes.box(j, box, 0);
      writeNode(view, (j - k) * NODE_BYTES, box, 0, offset);
      offset += boxes.size(j);
    }
    yield chunk;
  }
}
