import type { RawRow } from './read.ts';
import { type Geometry, isEmptyGeometry, type Position, type Row, type Srid, type Table } from './table.ts';

/**
 * When a value read back counts as the value written, per format. Each allowance is a documented property
 * of the format (or of the reader the partner uses), named with its reason, and it is the only slack the
 * comparison gives: anything else that differs is a finding.
 */
export interface Allowances {
  /** The format has one spelling for null and empty text. */
  readonly nullTextIsEmpty?: string;
  /** The format does not keep what is at either end of a text value: spaces only, or any white space. */
  readonly trimsText?: { readonly what: 'spaces' | 'whitespace'; readonly why: string };
  /** The format cannot hold the C0 control characters XML 1.0 forbids (all but tab, line feed, return). */
  readonly dropsXmlForbidden?: string;
  /** The format cannot hold an empty geometry: it arrives as no geometry. */
  readonly emptyGeometryIsNull?: string;
  /** Rows with no geometry are not in the file at all. */
  readonly dropsRowsWithoutGeometry?: string;
  /** The format does not tell a one-part multi-geometry from its single part. */
  readonly singleIsMulti?: string;
  /** Rings may come back in another orientation and from another first vertex. */
  readonly ringOrder?: string;
  /** Coordinates pass through a transformation or a decimal text of limited precision. */
  readonly coordinates?: {
    readonly absolute?: Record<Srid, number>;
    readonly relative?: number;
    readonly why: string;
  };
  /** Integers of 19 digits and more are read as doubles. */
  readonly bigintsAsDoubles?: string;
  /** Doubles are written as decimal text of limited precision. */
  readonly doubles?: { readonly absolute: number; readonly relative: number; readonly why: string };
}

/** A row with every value in one comparable form: the form the fuzzer writes its rows in. */
export type Canon = Row;

const isNull = (v: unknown) => v === null || v === undefined;

function day(v: unknown): string | null {
  if (isNull(v)) return null;
  if (v instanceof Date) {
    const y = v.getUTCFullYear();
    return `${String(y).padStart(4, '0')}-${v.toISOString().slice(5, 10)}`;
  }
  // GDAL spells dates 2024/01/03 in some writers, 2024-01-03 in others: the same date.
  return String(v).replace(/\//g, '-').slice(0, 10);
}

function flag(v: unknown): boolean | null {
  if (isNull(v)) return null;
  if (typeof v === 'boolean') return v;
  const s = String(v).toLowerCase();
  if (['1', 't', 'true'].includes(s)) return true;
  if (['0', 'f', 'false'].includes(s)) return false;
  throw new Error(`"${s}" is not a boolean`);
}

/** A row read back (typed or as text) in comparable form; a column a reader did not give is null. */
export function canon(r: RawRow): Canon {
  const num = (v: unknown) => (isNull(v) || v === '' ? null : Number(v));
  return {
    rid: Number(r.rid),
    txt: isNull(r.txt) ? null : String(r.txt),
    num: num(r.num),
    big: isNull(r.big) || r.big === '' ? null : BigInt(String(r.big)).toString(),
    dbl: num(r.dbl),
    day: r.day === '' ? null : day(r.day),
    flag: r.flag === '' ? null : flag(r.flag),
    geom: r.geom ?? null,
  };
}

/** The generated table in comparable form. */
export const canonTable = (t: Table): Canon[] => t.rows.map((r) => ({ ...r }));

/** Rings as a set of vertex loops: counter-clockwise, starting from the least vertex. */
function normalRing(ring: Position[]): Position[] {
  const open = ring.slice(0, -1);
  let area = 0;
  for (let i = 0; i < open.length; i++) {
    const a = open[i]!;
    const b = open[(i + 1) % open.length]!;
    area += a[0]! * b[1]! - b[0]! * a[1]!;
  }
  const ccw = area < 0 ? [...open].reverse() : open;
  let first = 0;
  ccw.forEach((p, i) => {
    const q = ccw[first]!;
    if (p[0]! < q[0]! || (p[0] === q[0] && p[1]! < q[1]!)) first = i;
  });
  const turned = [...ccw.slice(first), ...ccw.slice(0, first)];
  return [...turned, turned[0]!];
}

/** Geometry put in the one form a format's allowances make equal. */
function normalGeometry(g: Geometry | null, a: Allowances): Geometry | null {
  if (g === null) return null;
  if (a.emptyGeometryIsNull && isEmptyGeometry(g)) return null;
  if (a.singleIsMulti) {
    if (g.type === 'MultiLineString' && g.coordinates.length === 1)
      return normalGeometry({ type: 'LineString', coordinates: g.coordinates[0]! }, a);
    if (g.type === 'MultiPolygon' && g.coordinates.length === 1)
      return normalGeometry({ type: 'Polygon', coordinates: g.coordinates[0]! }, a);
  }
  if (a.ringOrder) {
    if (g.type === 'Polygon') return { type: g.type, coordinates: g.coordinates.map(normalRing) };
    if (g.type === 'MultiPolygon')
      return { type: g.type, coordinates: g.coordinates.map((p) => p.map(normalRing)) };
  }
  if (g.type === 'GeometryCollection')
    return { type: g.type, geometries: g.geometries.map((x) => normalGeometry(x, a)!) };
  return g;
}

/** Where two geometries differ beyond `tolerance` on each ordinate, or undefined when they do not. */
function geometryDifference(x: Geometry, y: Geometry, tolerance: (v: number) => number): string | undefined {
  if (x.type !== y.type) return `type ${x.type} became ${y.type}`;
  const walk = (a: unknown, b: unknown, path: string): string | undefined => {
    if (typeof a === 'number' || typeof b === 'number') {
      if (typeof a !== 'number' || typeof b !== 'number') return `${path}: ${a} became ${b}`;
      return Math.abs(a - b) <= tolerance(a) ? undefined : `${path}: ${a} became ${b}`;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      if (a.length !== b.length) return `${path}: ${a.length} items became ${b.length}`;
      for (let i = 0; i < a.length; i++) {
        const d = walk(a[i], b[i], `${path}[${i}]`);
        if (d) return d;
      }
      return undefined;
    }
    return `${path}: ${JSON.stringify(a)} became ${JSON.stringify(b)}`;
  };
  if (x.type === 'GeometryCollection' && y.type === 'GeometryCollection') {
    if (x.geometries.length !== y.geometries.length)
      return `${x.geometries.length} members became ${y.geometries.length}`;
    for (let i = 0; i < x.geometries.length; i++) {
      const d = geometryDifference(x.geometries[i]!, y.geometries[i]!, tolerance);
      if (d) return `member ${i}: ${d}`;
    }
    return undefined;
  }
  return walk(
    (x as { coordinates: unknown }).coordinates,
    (y as { coordinates: unknown }).coordinates,
    'coordinates',
  );
}

/** Characters XML 1.0 (§2.2) has no place for, even as a character reference. */
const XML_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/**
 * Every way `actual` differs from `expected` under a format's allowances, one line each (empty: equal).
 * Rows are matched by id, whatever order the file keeps them in.
 */
export function differences(
  expected: readonly Canon[],
  actual: readonly Canon[],
  a: Allowances,
  srid: Srid,
): string[] {
  const out: string[] = [];
  const want = a.dropsRowsWithoutGeometry ? expected.filter((r) => r.geom !== null) : expected;
  const byId = new Map(actual.map((r) => [r.rid, r]));
  if (actual.length !== want.length) out.push(`${want.length} rows became ${actual.length}`);
  const absolute = a.coordinates?.absolute?.[srid] ?? 0;
  const relative = a.coordinates?.relative ?? 0;
  for (const w of want) {
    const got = byId.get(w.rid);
    if (!got) {
      out.push(`row ${w.rid} is missing`);
      continue;
    }
    const at = (col: string, x: unknown, y: unknown) =>
      out.push(`row ${w.rid}, ${col}: ${show(x)} became ${show(y)}`);
    // White space as XML has it (space, tab, line ends), not Unicode's: a no-break space is text.
    const ends = a.trimsText?.what === 'spaces' ? /^ +| +$/g : /^[ \t\r\n]+|[ \t\r\n]+$/g;
    const trim = (v: string) => v.replace(ends, '');
    const kept = (v: string) => (a.dropsXmlForbidden ? v.replace(XML_FORBIDDEN, '') : v);
    const trimmed = (v: string | null) => (v === null ? v : a.trimsText ? trim(kept(v)) : kept(v));
    const txt = (v: string | null) => (a.nullTextIsEmpty ? (trimmed(v) ?? '') : trimmed(v));
    if (txt(w.txt) !== txt(got.txt)) at('txt', w.txt, got.txt);
    if (w.num !== got.num) at('num', w.num, got.num);
    const sameBig =
      w.big === got.big ||
      (a.bigintsAsDoubles &&
        w.big !== null &&
        got.big !== null &&
        Math.abs(Number(w.big) - Number(got.big)) <= 1e-14 * Math.abs(Number(w.big)));
    if (!sameBig) at('big', w.big, got.big);
    // IEEE equality: -0 equals 0, and no format is asked to keep the sign of a zero.
    const closeDouble =
      w.dbl === got.dbl ||
      (a.doubles &&
        w.dbl !== null &&
        got.dbl !== null &&
        Math.abs(w.dbl - got.dbl) <= a.doubles.absolute + a.doubles.relative * Math.abs(w.dbl));
    if (!closeDouble) at('dbl', w.dbl, got.dbl);
    if (w.day !== got.day) at('day', w.day, got.day);
    if (w.flag !== got.flag) at('flag', w.flag, got.flag);
    const g1 = normalGeometry(w.geom, a);
    const g2 = normalGeometry(got.geom, a);
    if (g1 === null || g2 === null) {
      if (g1 !== g2) at('geom', JSON.stringify(w.geom), JSON.stringify(got.geom));
    } else {
      const d = geometryDifference(g1, g2, (v) => absolute + relative * Math.abs(v));
      if (d)
        out.push(`row ${w.rid}, geom: ${d} (${JSON.stringify(w.geom)} became ${JSON.stringify(got.geom)})`);
    }
  }
  return out;
}
