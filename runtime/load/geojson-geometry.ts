import { BACKSLASH, COLON, COMMA, LBRACE, LBRACKET, QUOTE, RBRACE, RBRACKET } from './json-bytes.ts';
import { SRID_FLAG, TYPES, type Writer, writer, Z_FLAG } from './wkb.ts';

const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
/** The array depth of `coordinates` for each type. */
const DEPTH: Record<string, number> = {
  Point: 1,
  LineString: 2,
  MultiPoint: 2,
  Polygon: 3,
  MultiLineString: 3,
  MultiPolygon: 4,
};

/** Growable typed arrays, reused across calls: parsing a geometry allocates nothing. */
let coords = new Float64Array(1 << 16);
let counts = new Int32Array(1 << 12);
let nCoords = 0;
let nCounts = 0;

class Unhandled extends Error {}
const UNHANDLED = new Unhandled();

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Reads a GeoJSON geometry's bytes straight into hex EWKB, parsing numbers from the bytes instead of building
 * JavaScript arrays (JSON.parse spends most of a large load allocating coordinate arrays). Numbers with at
 * most 15 significant digits and a decimal exponent within ±22 are converted with one correctly rounded
 * operation (Clinger's fast path), so every double is the one JSON.parse would give; others go through Number.
 *
 * Writes into the shared `writer` and returns true; returns false for anything outside the common shapes (a GeometryCollection, empty or ragged
 * coordinates, unexpected syntax): the caller then parses with JSON.parse and reports errors precisely.
 */
export function geometryToEwkb(buf: Buffer, start: number, end: number, srid: number): boolean {
  try {
    nCoords = 0;
    nCounts = 0;
    let i = skipSpace(buf, start, end);
    if (buf[i] !== LBRACE) return false;
    i++;
    let type: string | undefined;
    let depth = -1;
    let dims = -1;
    for (;;) {
      i = skipSpace(buf, i, end);
      if (buf[i] === RBRACE) break;
      if (buf[i] !== QUOTE) return false;
      const keyEnd = buf.indexOf(QUOTE, i + 1);
      if (keyEnd === -1 || keyEnd >= end) return false;
      const key = buf.toString('latin1', i + 1, keyEnd);
      i = skipSpace(buf, keyEnd + 1, end);
      if (buf[i] !== COLON) return false;
      i = skipSpace(buf, i + 1, end);
      if (key === 'type') {
        if (buf[i] !== QUOTE) return false;
        const e = buf.indexOf(QUOTE, i + 1);
        if (e === -1 || e >= end) return false;
        type = buf.toString('latin1', i + 1, e);
        i = e + 1;
      } else if (key === 'coordinates') {
        const r = parseCoordinates(buf, i, end, 1);
        i = r.next;
        depth = r.depth;
        dims = r.dims;
      } else {
        i = skipValue(buf, i, end);
      }
      i = skipSpace(buf, i, end);
      if (buf[i] === COMMA) i++;
      else if (buf[i] !== RBRACE) return false;
    }
    if (
      type === undefined ||
      DEPTH[type] === undefined ||
      DEPTH[type] !== depth ||
      (dims !== 2 && dims !== 3)
    )
      return false;
    writer.reset();
    write(writer, type, dims, srid);
    return true;
  } catch (e) {
    if (e instanceof Unhandled) return false;
    throw e;
  }
}

/** As `geometryToEwkb`, as a hex string (undefined where it leaves the shape to JSON.parse). */
export function geometryToEwkbHex(buf: Buffer, start: number, end: number, srid: number): string | undefined {
  return geometryToEwkb(buf, start, end, srid) ? writer.hex() : undefined;
}

function skipSpace(buf: Buffer, i: number, end: number): number {
  while (i < end && isSpace(buf[i]!)) i++;
  return i;
}

/** Skips one JSON value of a member we do not use (bbox, crs, ...). */
function skipValue(buf: Buffer, i: number, end: number): number {
  let depth = 0;
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c === QUOTE) {
      i++;
      while (i < end && buf[i] !== QUOTE) i += buf[i] === BACKSLASH ? 2 : 1;
      if (depth === 0) return i + 1;
    } else if (c === LBRACE || c === LBRACKET) depth++;
    else if (c === RBRACE || c === RBRACKET) {
      if (depth === 0) return i;
      depth--;
      if (depth === 0) return i + 1;
    } else if (depth === 0 && (c === COMMA || isSpace(c))) return i;
  }
  return i;
}

function pushCoord(v: number): void {
  if (nCoords === coords.length) {
    const next = new Float64Array(coords.length * 2);
    next.set(coords);
    coords = next;
  }
  coords[nCoords++] = v;
}

function reserveCount(): number {
  if (nCounts === counts.length) {
    const next = new Int32Array(counts.length * 2);
    next.set(counts);
    counts = next;
  }
  return nCounts++;
}

/**
 * Parses nested coordinate arrays: numbers go to `coords`, and each array above the positions records its
 * length in `counts`, in pre-order. Returns the array depth and the position dimension.
 */
function parseCoordinates(
  buf: Buffer,
  i: number,
  end: number,
  level: number,
): { next: number; depth: number; dims: number } {
  if (buf[i] !== LBRACKET) throw UNHANDLED;
  i = skipSpace(buf, i + 1, end);
  const c = buf[i]!;
  if (c === LBRACKET) {
    const slot = reserveCount();
    let n = 0;
    let depth = -1;
    let dims = -1;
    for (;;) {
      const r = parseCoordinates(buf, i, end, level + 1);
      if ((depth !== -1 && r.depth !== depth) || (dims !== -1 && r.dims !== dims)) throw UNHANDLED;
      depth = r.depth;
      dims = r.dims;
      n++;
      i = skipSpace(buf, r.next, end);
      if (buf[i] === COMMA) i = skipSpace(buf, i + 1, end);
      else if (buf[i] === RBRACKET) break;
      else throw UNHANDLED;
    }
    counts[slot] = n;
    return { next: i + 1, depth: depth + 1, dims };
  }
  // A position: numbers.
  let dims = 0;
  for (;;) {
    i = parseNumber(buf, i, end);
    dims++;
    i = skipSpace(buf, i, end);
    if (buf[i] === COMMA) i = skipSpace(buf, i + 1, end);
    else if (buf[i] === RBRACKET) break;
    else throw UNHANDLED;
  }
  // Extra ordinates (M) beyond Z are not kept, as the JSON.parse path does not keep them either.
  if (dims > 3) nCoords -= dims - 3;
  return { next: i + 1, depth: 1, dims: Math.min(dims, 3) };
}

function parseNumber(buf: Buffer, i: number, end: number): number {
  const start = i;
  let negative = false;
  if (buf[i] === MINUS) {
    negative = true;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let scale = 0;
  let sawDigit = false;
  let c = buf[i]!;
  while (c >= 0x30 && c <= 0x39) {
    if (digits > 0 || c !== 0x30) {
      mantissa = mantissa * 10 + (c - 0x30);
      digits++;
    }
    sawDigit = true;
    c = buf[++i]!;
  }
  if (c === DOT) {
    c = buf[++i]!;
    while (c >= 0x30 && c <= 0x39) {
      if (digits > 0 || c !== 0x30) {
        mantissa = mantissa * 10 + (c - 0x30);
        digits++;
      }
      scale--;
      sawDigit = true;
      c = buf[++i]!;
    }
  }
  if (!sawDigit || i > end) throw UNHANDLED;
  if (c === 0x65 || c === 0x45) {
    let expNegative = false;
    c = buf[++i]!;
    if (c === MINUS || c === PLUS) {
      expNegative = c === MINUS;
      c = buf[++i]!;
    }
    let exp = 0;
    let expDigits = 0;
    while (c >= 0x30 && c <= 0x39) {
      exp = exp * 10 + (c - 0x30);
      expDigits++;
      c = buf[++i]!;
    }
    if (expDigits === 0) throw UNHANDLED;
    scale += expNegative ? -exp : exp;
  }
  let value: number;
  if (digits <= 15 && scale >= -22 && scale <= 22)
    value = scale >= 0 ? mantissa * POW10[scale]! : mantissa / POW10[-scale]!;
  else value = Number(buf.toString('latin1', negative ? start + 1 : start, i));
  if (Number.isNaN(value)) throw UNHANDLED;
  pushCoord(negative ? -value : value);
  return i;
}

/** Writes the parsed coordinates as EWKB for `type`, walking `counts` and `coords` in order. */
function write(w: Writer, type: string, dims: number, srid: number): void {
  let ci = 0;
  let xi = 0;
  const header = (t: string, withSrid: boolean) => {
    w.byte(1);
    w.u32(TYPES[t]! | (dims === 3 ? Z_FLAG : 0) | (withSrid ? SRID_FLAG : 0));
    if (withSrid) w.u32(srid);
  };
  const point = () => {
    for (let d = 0; d < dims; d++) w.f64(coords[xi++]!);
  };
  const points = () => {
    const n = counts[ci++]!;
    w.u32(n);
    for (let k = 0; k < n; k++) point();
  };
  const rings = () => {
    const n = counts[ci++]!;
    w.u32(n);
    for (let k = 0; k < n; k++) points();
  };
  header(type, true);
  switch (type) {
    case 'Point':
      point();
      return;
    case 'LineString':
      points();
      return;
    case 'Polygon':
      rings();
      return;
    default: {
      // Multi*: a count, then each part with its own header (no SRID) and body.
      const [part, body] =
        type === 'MultiPoint'
          ? (['Point', point] as const)
          : type === 'MultiLineString'
            ? (['LineString', points] as const)
            : (['Polygon', rings] as const);
      const n = counts[ci++]!;
      w.u32(n);
      for (let k = 0; k < n; k++) {
        header(part, false);
        body();
      }
    }
  }
}
