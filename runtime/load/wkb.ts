/**
 * GeoJSON geometry → hex EWKB, the form PostGIS reads fastest in COPY and that keeps every double exactly.
 * Throws GeometryError naming what is wrong with the structure; what is geometrically wrong (an unclosed
 * ring) is left for PostGIS to say.
 */
export class GeometryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GeometryError';
  }
}

export const TYPES: Record<string, number> = {
  Point: 1,
  LineString: 2,
  Polygon: 3,
  MultiPoint: 4,
  MultiLineString: 5,
  MultiPolygon: 6,
  GeometryCollection: 7,
};
export const Z_FLAG = 0x80000000;
export const SRID_FLAG = 0x20000000;

type Json = unknown;

function position(p: Json, dims: number, where: string): number[] {
  if (!Array.isArray(p) || p.length < 2)
    throw new GeometryError(`${where}: a position must be an array of at least 2 numbers`);
  if (p.length < dims) throw new GeometryError(`${where}: mixes 2D and 3D positions`);
  for (let i = 0; i < dims; i++)
    if (typeof p[i] !== 'number')
      throw new GeometryError(`${where}: coordinates must be numbers, got ${JSON.stringify(p[i])}`);
  return p as number[];
}

function array(v: Json, where: string): Json[] {
  if (!Array.isArray(v)) throw new GeometryError(`${where}: expected an array`);
  return v;
}

function firstPosition(g: { type?: unknown; coordinates?: unknown; geometries?: unknown }): Json {
  let c: Json = g.type === 'GeometryCollection' ? undefined : g.coordinates;
  if (g.type === 'GeometryCollection') {
    for (const child of array(g.geometries, 'geometries')) {
      const p = firstPosition(child as typeof g);
      if (p !== undefined) return p;
    }
    return undefined;
  }
  while (Array.isArray(c) && Array.isArray(c[0])) c = c[0];
  return Array.isArray(c) && c.length > 0 ? c : undefined;
}

/** A growable little-endian byte writer, reused across geometries: one allocation per load, not per feature. */
export class Writer {
  private buf = Buffer.allocUnsafe(1 << 16);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private at = 0;
  reset(): void {
    this.at = 0;
  }
  private ensure(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }
  byte(v: number): void {
    this.ensure(1);
    this.buf[this.at++] = v;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.at, v >>> 0, true);
    this.at += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.at, v, true);
    this.at += 8;
  }
  hex(): string {
    return this.buf.toString('hex', 0, this.at);
  }
  /** Writes the bytes as hex digits into `out` at `offset`, without making a string; returns the new offset. */
  hexInto(out: Buffer, offset: number): number {
    let o = offset;
    for (let k = 0; k < this.at; k++) {
      const b = this.buf[k]!;
      out[o++] = HEX_DIGITS[b >> 4]!;
      out[o++] = HEX_DIGITS[b & 15]!;
    }
    return o;
  }
  get length(): number {
    return this.at;
  }
}

const HEX_DIGITS = Buffer.from('0123456789abcdef');

/** Shared by the converters: one buffer reused across geometries. */
export const writer = new Writer();

/** The hot loop: a run of positions, checked as plainly as they are written. */
function writePoints(w: Writer, list: Json[], dims: number, where: string): void {
  w.u32(list.length);
  for (let i = 0; i < list.length; i++) {
    const p = list[i] as number[];
    if (
      !Array.isArray(p) ||
      p.length < dims ||
      typeof p[0] !== 'number' ||
      typeof p[1] !== 'number' ||
      (dims === 3 && typeof p[2] !== 'number')
    )
      position(p, dims, where);
    w.f64(p[0]!);
    w.f64(p[1]!);
    if (dims === 3) w.f64(p[2]!);
  }
}

function writeGeometry(w: Writer, g: Json, dims: number, srid: number | undefined, where: string): void {
  if (g === null || typeof g !== 'object') throw new GeometryError(`${where}: expected a geometry object`);
  const { type, coordinates, geometries } = g as { type?: unknown; coordinates?: Json; geometries?: Json };
  const code = typeof type === 'string' ? TYPES[type] : undefined;
  if (code === undefined) throw new GeometryError(`${where}: unknown geometry type ${JSON.stringify(type)}`);
  w.byte(1);
  w.u32(code | (dims === 3 ? Z_FLAG : 0) | (srid !== undefined ? SRID_FLAG : 0));
  if (srid !== undefined) w.u32(srid);
  const points = (list: Json[], at: string) => writePoints(w, list, dims, at);
  const rings = (list: Json[], at: string) => {
    w.u32(list.length);
    for (const ring of list) writePoints(w, array(ring, at), dims, at);
  };
  switch (type) {
    case 'Point': {
      const p = position(coordinates, dims, `${where} (Point)`);
      w.f64(p[0]!);
      w.f64(p[1]!);
      if (dims === 3) w.f64(p[2]!);
      return;
    }
    case 'LineString':
      points(array(coordinates, where), `${where} (LineString)`);
      return;
    case 'Polygon':
      rings(array(coordinates, where), `${where} (Polygon)`);
      return;
    case 'MultiPoint':
    case 'MultiLineString':
    case 'MultiPolygon': {
      const part = type.slice(5);
      const parts = array(coordinates, where);
      w.u32(parts.length);
      for (const c of parts) writeGeometry(w, { type: part, coordinates: c }, dims, undefined, where);
      return;
    }
    default: {
      const parts = array(geometries, `${where} (GeometryCollection.geometries)`);
      w.u32(parts.length);
      for (const c of parts) writeGeometry(w, c, dims, undefined, where);
    }
  }
}

/** Writes the EWKB of a parsed GeoJSON geometry into `writer`; false for a null geometry. */
export function geojsonToEwkb(geometry: Json, srid: number): boolean {
  if (geometry === null || geometry === undefined) return false;
  const first = firstPosition(geometry as { type?: unknown });
  const dims = Array.isArray(first) && first.length >= 3 && typeof first[2] === 'number' ? 3 : 2;
  writer.reset();
  writeGeometry(writer, geometry, dims, srid, 'geometry');
  return true;
}

/** Hex EWKB of a GeoJSON geometry, with `srid` set; null for a null geometry. */
export function geojsonToEwkbHex(geometry: Json, srid: number): string | null {
  return geojsonToEwkb(geometry, srid) ? writer.hex() : null;
}
