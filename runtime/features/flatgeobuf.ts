import * as flatbuffers from 'flatbuffers';
import { Feature as FgbFeature } from 'flatgeobuf/lib/mjs/flat-geobuf/feature.js';
import { fromFeature } from 'flatgeobuf/lib/mjs/geojson/feature.js';
import { fromByteBuffer, type HeaderMeta } from 'flatgeobuf/lib/mjs/header-meta.js';
import type { Feature } from 'geojson';

/** Reads bytes `start`..`end` (exclusive) of one immutable object: an S3 Range request, or a positioned file read. */
export type ReadRange = (start: number, end: number) => Promise<Uint8Array>;

/** `[minX, minY, maxX, maxY]` in the file's CRS (EPSG:4326 for published files). */
export type Bbox = readonly [number, number, number, number];
/**
 * Where to look: one box, or several whose union is the area (a bbox across the antimeridian is two boxes,
 * one each side); a feature meeting two of them is found once.
 */
export type Area = Bbox | readonly Bbox[];

const boxesOf = (area: Area): readonly Bbox[] =>
  typeof area[0] === 'number' ? [area as Bbox] : (area as readonly Bbox[]);

export class FlatGeobufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlatGeobufError';
  }
}

const MAGIC = [0x66, 0x67, 0x62, 0x03, 0x66, 0x67, 0x62];
const NODE_BYTES = 40;
/** The header is read with the first request; most are a few hundred bytes. */
const FIRST_READ = 16 * 1024;
/** Leaf blocks read per range request while a bbox page fills: 64 parents of 16 leaves, 40 KiB. */
const LEAF_BATCH_PARENTS = 64;
/** Features further apart than this are fetched by separate range requests rather than one spanning both. */
const COALESCE_GAP = 64 * 1024;

export interface FeaturePage {
  readonly features: Feature[];
  /** Position (leaf index) to resume from, when more may follow. */
  readonly next: number | undefined;
}

function intersects(view: DataView, at: number, boxes: readonly Bbox[]): boolean {
  for (const b of boxes) if (meetsBox(view, at, b)) return true;
  return false;
}

function meetsBox(view: DataView, at: number, b: Bbox): boolean {
  return !(
    b[2] < view.getFloat64(at, true) ||
    b[3] < view.getFloat64(at + 8, true) ||
    b[0] > view.getFloat64(at + 16, true) ||
    b[1] > view.getFloat64(at + 24, true)
  );
}

function within(view: DataView, at: number, boxes: readonly Bbox[]): boolean {
  for (const b of boxes) if (withinBox(view, at, b)) return true;
  return false;
}

function withinBox(view: DataView, at: number, b: Bbox): boolean {
  return (
    view.getFloat64(at, true) >= b[0] &&
    view.getFloat64(at + 8, true) >= b[1] &&
    view.getFloat64(at + 16, true) <= b[2] &&
    view.getFloat64(at + 24, true) <= b[3]
  );
}

const viewOf = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * One FlatGeobuf file with its packed Hilbert R-tree, read by ranges: the header once, then per page only
 * the leaf entries and features it needs. A page without a bbox reads one run of leaves and one run of
 * features; a bbox page walks the tree's upper levels (read once, kept with the file: about 1/15 of the
 * index) and reads the leaves under the parents that intersect, in order, until the page is full.
 *
 * Features are numbered by their position in the file (the order of the index's leaves), which is stable
 * because published files never change: that position is the feature id and the cursor.
 */
export class FlatGeobufFile {
  private upper: DataView | undefined;
  /** [start, end) node indexes of each level, leaves first (the format's own layout: root at index 0). */
  private readonly levels: [number, number][];

  private constructor(
    private readonly read: ReadRange,
    readonly size: number,
    readonly header: HeaderMeta,
    private readonly indexStart: number,
    private readonly featuresStart: number,
  ) {
    this.levels = levelBounds(header.featuresCount, header.indexNodeSize);
  }

  static async open(read: ReadRange, size: number): Promise<FlatGeobufFile> {
    let head = await read(0, Math.min(size, FIRST_READ));
    if (head.length < 12 || MAGIC.some((b, i) => head[i] !== b))
      throw new FlatGeobufError('not a FlatGeobuf file (its first bytes are not the FlatGeobuf magic)');
    const headerLength = viewOf(head).getUint32(8, true);
    const indexStart = 12 + headerLength;
    if (indexStart > head.length) head = await read(0, indexStart);
    const header = fromByteBuffer(new flatbuffers.ByteBuffer(head.subarray(8, indexStart)));
    const count = header.featuresCount;
    if (count > 0 && header.indexNodeSize < 2)
      throw new FlatGeobufError('the FlatGeobuf file has no spatial index; it must be written with one');
    const treeBytes = count > 0 ? treeSize(count, header.indexNodeSize) : 0;
    return new FlatGeobufFile(read, size, header, indexStart, indexStart + treeBytes);
  }

  get count(): number {
    return this.header.featuresCount;
  }

  get nodeSize(): number {
    return this.header.indexNodeSize;
  }

  /** Bytes held in memory for this file besides its header: the upper levels, once a bbox was asked for. */
  get cachedBytes(): number {
    return this.upper?.byteLength ?? 0;
  }

  /** Features `start` .. `start + limit - 1` in file order. */
  async page(start: number, limit: number): Promise<FeaturePage> {
    const end = Math.min(this.count, start + limit);
    if (start >= end) return { features: [], next: undefined };
    const leaves = await this.readLeaves(start, end);
    const features = await this.readFeatures(
      Array.from({ length: end - start }, (_, i) => start + i),
      leaves.offsetOf,
    );
    return { features, next: end < this.count ? end : undefined };
  }

  /** One feature by its position; undefined past the end. */
  async feature(index: number): Promise<Feature | undefined> {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) return undefined;
    return (await this.page(index, 1)).features[0];
  }

  /** Up to `limit` features whose bounding box meets `area`, from position `from` on, in file order. */
  async search(area: Area, from: number, limit: number): Promise<FeaturePage> {
    const bbox = boxesOf(area);
    if (this.count === 0 || limit <= 0) return { features: [], next: undefined };
    const upper = await this.upperLevels();
    const found: number[] = [];
    const offsets = new Map<number, number>();
    let batch: number[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const leaves = await this.readLeaves(
        this.leafRange(1, batch[0]!)[0],
        this.leafRange(1, batch[batch.length - 1]!)[1],
      );
      for (const parent of batch) {
        const [a, b] = this.leafRange(1, parent);
        for (let i = Math.max(a, from); i < b && found.length <= limit; i++)
          if (leaves.meets(i, bbox)) found.push(i);
      }
      for (const [i, offset] of leaves.offsets()) offsets.set(i, offset);
      batch = [];
    };
    // One more than the page is looked for, so the page knows whether another follows.
    for (const parent of this.parentsMeeting(upper, bbox, from)) {
      // Parents close together share one read; a parent far from the last one starts a new read.
      const previous = batch[batch.length - 1];
      if (previous !== undefined && parent - previous > 4) await flush();
      batch.push(parent);
      if (batch.length >= LEAF_BATCH_PARENTS) await flush();
      if (found.length > limit) break;
    }
    await flush();
    const page = found.slice(0, limit);
    const features = await this.readFeatures(page, (i) => offsets.get(i));
    return { features, next: found.length > limit ? page[page.length - 1]! + 1 : undefined };
  }

  /**
   * How many features' bounding boxes meet `area`. A node wholly inside counts all its leaves without
   * reading them; only the parents the bbox's edge crosses have their leaves read.
   */
  async countMeeting(area: Area): Promise<number> {
    const bbox = boxesOf(area);
    if (this.count === 0) return 0;
    const upper = await this.upperLevels();
    let total = 0;
    const partial: number[] = [];
    const visit = (level: number, node: number) => {
      if (!intersects(upper, node * NODE_BYTES, bbox)) return;
      const relative = node - this.levels[level]![0];
      if (within(upper, node * NODE_BYTES, bbox)) {
        const [a, b] = this.leafRange(level, relative);
        total += b - a;
      } else if (level === 1) partial.push(relative);
      else for (const child of this.children(level, node)) visit(level - 1, child);
    };
    visit(this.levels.length - 1, 0);
    for (let i = 0; i < partial.length; ) {
      let j = i;
      while (j + 1 < partial.length && partial[j + 1]! - partial[j]! <= 4 && j - i < LEAF_BATCH_PARENTS) j++;
      const leaves = await this.readLeaves(
        this.leafRange(1, partial[i]!)[0],
        this.leafRange(1, partial[j]!)[1],
      );
      for (let k = i; k <= j; k++) {
        const [a, b] = this.leafRange(1, partial[k]!);
        for (let leaf = a; leaf < b; leaf++) if (leaves.meets(leaf, bbox)) total++;
      }
      i = j + 1;
    }
    return total;
  }

  /** Parents of leaves (level 1, relative index) that meet `bbox` and hold leaves at `from` or later, in order. */
  private *parentsMeeting(upper: DataView, bbox: readonly Bbox[], from: number): Generator<number> {
    const walk = function* (self: FlatGeobufFile, level: number, node: number): Generator<number> {
      const relative = node - self.levels[level]![0];
      if (self.leafRange(level, relative)[1] <= from) return;
      if (!intersects(upper, node * NODE_BYTES, bbox)) return;
      if (level === 1) yield relative;
      else for (const child of self.children(level, node)) yield* walk(self, level - 1, child);
    };
    yield* walk(this, this.levels.length - 1, 0);
  }

  /** Absolute node indexes of a node's children. */
  private *children(level: number, node: number): Generator<number> {
    const relative = node - this.levels[level]![0];
    const [start, end] = this.levels[level - 1]!;
    const first = start + relative * this.nodeSize;
    for (let c = first; c < Math.min(first + this.nodeSize, end); c++) yield c;
  }

  /** [first, end) leaf positions under node `relative` of `level`. */
  private leafRange(level: number, relative: number): [number, number] {
    const span = this.nodeSize ** level;
    return [relative * span, Math.min((relative + 1) * span, this.count)];
  }

  /** Every level above the leaves, read once (they sit together at the start of the index). */
  private async upperLevels(): Promise<DataView> {
    if (!this.upper) {
      const leavesStart = this.levels[0]![0];
      this.upper = viewOf(await this.readExact(this.indexStart, this.indexStart + leavesStart * NODE_BYTES));
    }
    return this.upper;
  }

  /** Leaf entries `start` .. `end - 1`, and the one after (its offset ends the last feature). */
  private async readLeaves(start: number, end: number) {
    const first = this.levels[0]![0];
    const stop = Math.min(end + 1, this.count);
    const bytes = await this.readExact(
      this.indexStart + (first + start) * NODE_BYTES,
      this.indexStart + (first + stop) * NODE_BYTES,
    );
    const view = viewOf(bytes);
    const at = (i: number) => (i - start) * NODE_BYTES;
    const offsetOf = (i: number): number | undefined =>
      i >= start && i < stop ? Number(view.getBigUint64(at(i) + 32, true)) : undefined;
    return {
      offsetOf,
      meets: (i: number, b: readonly Bbox[]) => intersects(view, at(i), b),
      *offsets(): Generator<[number, number]> {
        for (let i = start; i < stop; i++) yield [i, offsetOf(i)!];
      },
    };
  }

  /**
   * Decodes the features at `positions` (ascending), reading neighbours in one range request. A feature
   * ends where the next one in the file starts, or at the end of the file.
   */
  private async readFeatures(
    positions: readonly number[],
    offsetOf: (i: number) => number | undefined,
  ): Promise<Feature[]> {
    const spans = positions.map((i) => {
      const start = offsetOf(i);
      if (start === undefined) throw new Error(`no leaf entry read for feature ${i}`);
      const end = i + 1 < this.count ? offsetOf(i + 1) : this.size - this.featuresStart;
      // The format writes features in the index's order; a file that does not cannot be read by ranges.
      if (end !== undefined && end <= start)
        throw new FlatGeobufError(`feature ${i} is not stored in the order of the spatial index`);
      return { i, start, end };
    });
    const out: Feature[] = [];
    for (let a = 0; a < spans.length; ) {
      let b = a;
      while (
        b + 1 < spans.length &&
        spans[b]!.end !== undefined &&
        spans[b + 1]!.start - spans[b]!.end! <= COALESCE_GAP
      )
        b++;
      const from = spans[a]!.start;
      // Without the next feature's offset, the size prefix says where the feature ends.
      let to = spans[b]!.end;
      if (to === undefined) {
        const prefix = await this.readExact(
          this.featuresStart + spans[b]!.start,
          this.featuresStart + spans[b]!.start + 4,
        );
        to = spans[b]!.start + 4 + viewOf(prefix).getUint32(0, true);
      }
      const bytes = await this.readExact(this.featuresStart + from, this.featuresStart + to);
      for (let k = a; k <= b; k++) out.push(this.decode(spans[k]!.i, bytes.subarray(spans[k]!.start - from)));
      a = b + 1;
    }
    return out;
  }

  private decode(id: number, bytes: Uint8Array): Feature {
    const length = viewOf(bytes).getUint32(0, true);
    if (length + 4 > bytes.length) throw new FlatGeobufError(`feature ${id} is cut short`);
    const bb = new flatbuffers.ByteBuffer(bytes.subarray(0, length + 4));
    return fromFeature(id, FgbFeature.getSizePrefixedRootAsFeature(bb), this.header) as Feature;
  }

  private async readExact(start: number, end: number): Promise<Uint8Array> {
    const bytes = await this.read(start, end);
    if (bytes.length !== end - start)
      throw new FlatGeobufError(
        `the file ends at ${start + bytes.length} bytes, before ${end}: it is cut short or not what its index says`,
      );
    return bytes;
  }
}

/** Bytes of a packed R-tree of `count` items: every level, leaves included. */
export function treeSize(count: number, nodeSize: number): number {
  return levelBounds(count, nodeSize).reduce((n, [a, b]) => n + (b - a), 0) * NODE_BYTES;
}

/** [start, end) node indexes of each level, leaves (level 0) first; the root is node 0. */
export function levelBounds(count: number, nodeSize: number): [number, number][] {
  if (count === 0) return [[0, 0]];
  // At least one level above the leaves, as the format writes it (even for a single feature).
  const sizes = [count];
  let n = count;
  do {
    n = Math.ceil(n / nodeSize);
    sizes.push(n);
  } while (n !== 1);
  const total = sizes.reduce((a, b) => a + b, 0);
  const out: [number, number][] = [];
  let end = total;
  for (const size of sizes) {
    out.push([end - size, end]);
    end -= size;
  }
  return out;
}
