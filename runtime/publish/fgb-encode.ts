/**
 * FlatGeobuf features as bytes: each a size-prefixed flatbuffer (`Feature { geometry, properties }`),
 * written front to back by hand rather than by a flatbuffers Builder (which builds back to front, one
 * object at a time, several times slower on a million small features). The layout is the Builder's: every
 * offset points forward, doubles sit on 8-byte boundaries counted from the size prefix, and a feature's
 * length is a multiple of 8, as GDAL writes them.
 */

/** FlatGeobuf's GeometryType values (the format's schema). */
export const GEOMETRY_TYPE: Record<string, number> = {
  GEOMETRY: 0,
  POINT: 1,
  LINESTRING: 2,
  POLYGON: 3,
  MULTIPOINT: 4,
  MULTILINESTRING: 5,
  MULTIPOLYGON: 6,
  GEOMETRYCOLLECTION: 7,
};

/** FlatGeobuf's ColumnType values used here (the format's schema). */
export const COLUMN_TYPE = { Bool: 2, Int: 5, Long: 7, Double: 10, String: 11, DateTime: 13 } as const;

/** Geometry table field ids (the format's schema): ends, xy, z, m, t, tm, type, parts. */
const G_ENDS = 0;
const G_XY = 1;
const G_Z = 2;
const G_TYPE = 6;
const G_PARTS = 7;
const [XY, XY_Z, ENDS_XY, ENDS_XY_Z] = [[G_XY], [G_XY, G_Z], [G_ENDS, G_XY], [G_ENDS, G_XY, G_Z]];
/** Feature table field ids: geometry, properties. */
const [GEOMETRY_ONLY, GEOMETRY_PROPERTIES] = [[0], [0, 1]];

/** A growable byte buffer written front to back, positions counted from its start. */
export class ByteWriter {
  bytes = new Uint8Array(1024);
  view = new DataView(this.bytes.buffer);
  pos = 0;

  reset(): void {
    this.pos = 0;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.pos));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  /** Zero bytes until `pos + extra` is a multiple of `n`. */
  align(n: number, extra = 0): void {
    const pad = (n - ((this.pos + extra) % n)) % n;
    this.ensure(pad);
    this.bytes.fill(0, this.pos, this.pos + pad);
    this.pos += pad;
  }

  u8(v: number): void {
    this.ensure(1);
    this.bytes[this.pos++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  i32(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
  }

  i64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.pos, v, true);
    this.pos += 8;
  }

  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** A double from `view` at `at` in its byte order, as little-endian. */
  copyFloat64(view: DataView, at: number, le: boolean): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, view.getFloat64(at, le), true);
    this.pos += 8;
  }

  /** `n` bytes of `src` from `at`, in reverse: a big-endian number as a little-endian one. */
  reversed(src: Uint8Array, at: number, n: number): void {
    this.ensure(n);
    for (let i = 0; i < n; i++) this.bytes[this.pos + i] = src[at + n - 1 - i]!;
    this.pos += n;
  }

  copy(src: Uint8Array, at: number, n: number): void {
    this.ensure(n);
    // A short run by hand: a subarray for each of a million short values costs more than the copy.
    if (n < 64) for (let i = 0; i < n; i++) this.bytes[this.pos + i] = src[at + i]!;
    else this.bytes.set(src.subarray(at, at + n), this.pos);
    this.pos += n;
  }

  /** A string's UTF-8 bytes with their length before them (u32), as FlatGeobuf's String and DateTime. */
  text(s: string): void {
    this.ensure(4 + s.length * 3);
    const { written } = encoder.encodeInto(s, this.bytes.subarray(this.pos + 4));
    this.view.setUint32(this.pos, written, true);
    this.pos += 4 + written;
  }

  /** Writes at `slot` the forward offset to `target`, as a flatbuffer's uoffset. */
  patch(slot: number, target: number): void {
    this.view.setUint32(slot, target - slot, true);
  }

  /**
   * A table's vtable and inline part: the offset fields `refs` (field ids, in that order, 4 bytes each),
   * then one ubyte field `byteId` (-1 for none). Returns the table's start; ref `k` is at start + 4 + 4k.
   */
  table(refs: readonly number[], byteId: number, byteValue: number): number {
    const inline = 4 + refs.length * 4 + (byteId >= 0 ? 1 : 0);
    let fields = byteId + 1;
    for (const id of refs) if (id + 1 > fields) fields = id + 1;
    this.align(2);
    const vtable = this.pos;
    this.u16(4 + fields * 2);
    this.u16(inline);
    for (let id = 0; id < fields; id++) {
      const k = refs.indexOf(id);
      this.u16(k >= 0 ? 4 + k * 4 : id === byteId ? 4 + refs.length * 4 : 0);
    }
    this.align(4);
    const start = this.pos;
    this.i32(start - vtable);
    this.ensure(refs.length * 4);
    this.pos += refs.length * 4;
    if (byteId >= 0) this.u8(byteValue);
    return start;
  }
}

const encoder = new TextEncoder();

/**
 * A feature's bounding box, [minX, minY, maxX, maxY], filled in while its geometry is written: in a typed
 * array, so a million boxes make no garbage of boxed doubles.
 */
export type Box = Float64Array;

const resetBox = (box: Box) => {
  box[0] = Infinity;
  box[1] = Infinity;
  box[2] = -Infinity;
  box[3] = -Infinity;
};

/** One geometry read from WKB: where its coordinates are, and its parts. */
interface WkbGeometry {
  type: number;
  /** Byte order of this geometry's numbers. */
  le: boolean;
  /** Ordinates per position in the WKB (2, 3 or 4), and where Z is among them (-1: none). */
  dims: number;
  zAt: number;
  /** Positions and where each ring or line ends (in positions); runs of coordinates in the WKB. */
  points: number;
  ends: number[];
  runs: number[];
  /** Members of a MultiPolygon or GeometryCollection. */
  parts: WkbGeometry[];
}

/** Reads a WKB geometry's structure (ISO or EWKB) without copying its coordinates. */
function readWkb(view: DataView, at: number): { g: WkbGeometry; end: number } {
  const le = view.getUint8(at) === 1;
  let code = view.getUint32(at + 1, le);
  let p = at + 5;
  let z = (code & 0x80000000) !== 0;
  let m = (code & 0x40000000) !== 0;
  if (code & 0x20000000) p += 4;
  code &= 0x0fffffff;
  const iso = Math.floor(code / 1000);
  if (iso === 1 || iso === 3) z = true;
  if (iso === 2 || iso === 3) m = true;
  const type = code % 1000;
  const dims = 2 + (z ? 1 : 0) + (m ? 1 : 0);
  const g: WkbGeometry = { type, le, dims, zAt: z ? 2 : -1, points: 0, ends: [], runs: [], parts: [] };
  const run = (n: number) => {
    g.runs.push(p, n);
    g.points += n;
    p += n * dims * 8;
  };
  const count = () => {
    const n = view.getUint32(p, le);
    p += 4;
    return n;
  };
  if (type === 1) {
    // An empty point is NaN, NaN.
    if (!Number.isNaN(view.getFloat64(p, le))) run(1);
    else p += dims * 8;
  } else if (type === 2) run(count());
  else if (type === 3) {
    for (let r = count(); r > 0; r--) {
      run(count());
      g.ends.push(g.points);
    }
  } else if (type >= 4 && type <= 7) {
    for (let k = count(); k > 0; k--) {
      const part = readWkb(view, p);
      p = part.end;
      if (part.g.points === 0 && part.g.parts.length === 0) continue; // an empty member is left out, as GDAL does
      if (type === 6 || type === 7) g.parts.push(part.g);
      else {
        g.runs.push(...part.g.runs);
        g.points += part.g.points;
        if (type === 5) g.ends.push(g.points);
      }
    }
  } else throw new Error(`WKB geometry type ${code} is not one FlatGeobuf holds`);
  return { g, end: p };
}

/**
 * Writes one Geometry table and what it points to. `hasZ`: the file's header says Z, so every geometry
 * carries a z vector (0 where its WKB has none, as GDAL writes a 2D geometry in a 3D layer); M is dropped.
 */
function writeGeometry(w: ByteWriter, view: DataView, g: WkbGeometry, hasZ: boolean, box: Box): number {
  if (g.parts.length > 0 || g.type === 6 || g.type === 7) {
    const start = w.table([G_PARTS], G_TYPE, g.type);
    w.align(4);
    w.patch(start + 4, w.pos);
    w.u32(g.parts.length);
    const slots = w.pos;
    w.ensure(g.parts.length * 4);
    w.pos += g.parts.length * 4;
    g.parts.forEach((part, k) => {
      // A MultiPolygon's members are polygons; a collection's say their own type.
      const table = writeGeometry(w, view, g.type === 6 ? { ...part, type: 3 } : part, hasZ, box);
      w.patch(slots + k * 4, table);
    });
    return start;
  }
  // A polygon's one ring is the whole of xy, as the format allows; GDAL reads a MultiLineString's parts
  // from its ends only, so it has them even for one line.
  const withEnds = g.ends.length > 1 || (g.type === 5 && g.ends.length > 0);
  const start = w.table(withEnds ? (hasZ ? ENDS_XY_Z : ENDS_XY) : hasZ ? XY_Z : XY, G_TYPE, g.type);
  let slot = start + 4;
  if (withEnds) {
    w.align(4);
    w.patch(slot, w.pos);
    slot += 4;
    w.u32(g.ends.length);
    for (const e of g.ends) w.u32(e);
  }
  w.align(8, 4);
  w.patch(slot, w.pos);
  slot += 4;
  writeCoordinates(w, view, g, box, -1);
  if (hasZ) {
    w.align(8, 4);
    w.patch(slot, w.pos);
    writeCoordinates(w, view, g, box, g.zAt);
  }
  return start;
}

/** The xy vector (`zAt` -1) or the z vector of a geometry's runs of coordinates; xy widens `box`. */
function writeCoordinates(w: ByteWriter, view: DataView, g: WkbGeometry, box: Box, zAt: number): void {
  const xy = zAt === -1;
  const n = g.points * (xy ? 2 : 1);
  w.u32(n);
  w.ensure(n * 8);
  const out = w.view;
  let o = w.pos;
  const { le, dims, runs } = g;
  for (let r = 0; r < runs.length; r += 2) {
    let p = runs[r]!;
    for (let i = runs[r + 1]!; i > 0; i--, p += dims * 8) {
      if (xy) {
        const x = view.getFloat64(p, le);
        const y = view.getFloat64(p + 8, le);
        out.setFloat64(o, x, true);
        out.setFloat64(o + 8, y, true);
        o += 16;
        if (x < box[0]!) box[0] = x;
        if (y < box[1]!) box[1] = y;
        if (x > box[2]!) box[2] = x;
        if (y > box[3]!) box[3] = y;
      } else {
        out.setFloat64(o, zAt >= 0 ? view.getFloat64(p + zAt * 8, le) : 0, true);
        o += 8;
      }
    }
  }
  w.pos = o;
}

/** Starts a feature: the size prefix (filled in last), the root offset and the Feature table. */
function startFeature(w: ByteWriter, propertiesLength: number): number {
  w.reset();
  w.pos = 8;
  const feature = w.table(propertiesLength > 0 ? GEOMETRY_PROPERTIES : GEOMETRY_ONLY, -1, 0);
  w.view.setUint32(4, feature - 4, true);
  return feature;
}

/** Ends a feature: its properties, padding to 8 bytes, and the size prefix. */
function endFeature(w: ByteWriter, feature: number, properties: Uint8Array, propertiesLength: number): void {
  if (propertiesLength > 0) {
    w.align(4);
    w.patch(feature + 8, w.pos);
    w.u32(propertiesLength);
    w.copy(properties, 0, propertiesLength);
  }
  w.align(8);
  w.view.setUint32(0, w.pos - 4, true);
}

/** A point, the commonest feature, written without reading its WKB's structure into objects first. */
function writePoint(
  w: ByteWriter,
  view: DataView,
  at: number,
  le: boolean,
  z: boolean,
  hasZ: boolean,
  box: Box,
): number {
  box[0] = view.getFloat64(at + 5, le);
  box[1] = view.getFloat64(at + 13, le);
  box[2] = box[0]!;
  box[3] = box[1]!;
  const start = w.table(hasZ ? XY_Z : XY, G_TYPE, 1);
  w.align(8, 4);
  w.patch(start + 4, w.pos);
  w.u32(2);
  w.copyFloat64(view, at + 5, le);
  w.copyFloat64(view, at + 13, le);
  if (hasZ) {
    w.align(8, 4);
    w.patch(start + 8, w.pos);
    w.u32(1);
    if (z) w.copyFloat64(view, at + 21, le);
    else w.f64(0);
  }
  return start;
}

/**
 * Writes one whole feature into `w` (reset first): the size prefix, the root offset, the Feature table,
 * its geometry from the WKB at `at` in `view` and `properties` (already encoded, `propertiesLength`
 * bytes). Fills `box`. Returns false, writing nothing, when the geometry holds no position (an empty one).
 */
export function writeFeature(
  w: ByteWriter,
  view: DataView,
  at: number,
  hasZ: boolean,
  properties: Uint8Array,
  propertiesLength: number,
  box: Box,
): boolean {
  const le = view.getUint8(at) === 1;
  const code = view.getUint32(at + 1, le);
  if (code === 1 || code === 1001 || code === 0x80000001) {
    if (Number.isNaN(view.getFloat64(at + 5, le))) return false;
    const feature = startFeature(w, propertiesLength);
    w.patch(feature + 4, writePoint(w, view, at, le, code !== 1, hasZ, box));
    endFeature(w, feature, properties, propertiesLength);
    return true;
  }
  const { g } = readWkb(view, at);
  if (g.points === 0 && g.parts.length === 0) return false;
  resetBox(box);
  const feature = startFeature(w, propertiesLength);
  w.patch(feature + 4, writeGeometry(w, view, g, hasZ, box));
  endFeature(w, feature, properties, propertiesLength);
  return true;
}
