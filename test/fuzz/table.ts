import fc from 'fast-check';
import { GEOMETRY_TYPES, type GeometryType } from '../../runtime/catalog/schema.ts';

/**
 * The tables the fuzzer makes: one fixed set of typed columns (names of at most 10 characters, so a .dbf
 * keeps them), a `rid` that identifies each row in every format (FlatGeobuf reorders features by its index;
 * not `id`, which GDAL takes for the feature id of GeoJSON and so drops from a GeoPackage's fields),
 * and one geometry type per table, in one CRS, with or without Z, as a dataset declares them.
 */
export const SRIDS = [4326, 27700, 3857] as const;
export type Srid = (typeof SRIDS)[number];

// The geometry types the catalog declares, so the fuzzer covers exactly those.
export { GEOMETRY_TYPES, type GeometryType };

export type Position = number[];
export type Geometry =
  | { type: 'Point'; coordinates: Position | [] }
  | { type: 'LineString' | 'MultiPoint'; coordinates: Position[] }
  | { type: 'Polygon' | 'MultiLineString'; coordinates: Position[][] }
  | { type: 'MultiPolygon'; coordinates: Position[][][] }
  | { type: 'GeometryCollection'; geometries: Geometry[] };

export interface Row {
  readonly rid: number;
  readonly txt: string | null;
  readonly num: number | null;
  /** A bigint as its decimal digits: beyond 2^53 a JavaScript number cannot hold it. */
  readonly big: string | null;
  readonly dbl: number | null;
  /** YYYY-MM-DD. */
  readonly day: string | null;
  readonly flag: boolean | null;
  readonly geom: Geometry | null;
}

export interface Table {
  readonly srid: Srid;
  readonly type: GeometryType;
  readonly z: boolean;
  readonly rows: readonly Row[];
}

/** The attribute columns as a dataset declares them (the geometry is declared apart). */
export const COLUMNS = [
  { name: 'rid', type: 'integer', required: true, unique: true },
  { name: 'txt', type: 'text' },
  { name: 'num', type: 'integer' },
  { name: 'big', type: 'bigint' },
  { name: 'dbl', type: 'double' },
  { name: 'day', type: 'date' },
  { name: 'flag', type: 'boolean' },
] as const;
export type ColumnName = (typeof COLUMNS)[number]['name'];

/** Where coordinates may lie in each CRS: inside its area of use, so every position can be transformed. */
export const EXTENT: Record<Srid, { x: [number, number]; y: [number, number] }> = {
  // Latitudes short of the poles: EPSG:3857 cannot hold ±90, and 4326 tables go out in 4326 only anyway.
  4326: { x: [-180, 180], y: [-85, 85] },
  // EPSG:27700's area of use is 9.01°W–2.01°E, 49.75°N–61.01°N. Outside it PROJ (9.1, in GDAL 3.6)
  // takes the OSGB36 datum shift one way and a ballpark (no shift) the other, so a point written to KML by
  // ogr2ogr and read back moved by up to 130 m: (0, 0) came back as (-46.05, 72.83) (seed 1). Every
  // position of this rectangle was checked to go there and back within a millimetre.
  27700: { x: [50_000, 600_000], y: [10_000, 1_150_000] },
  3857: { x: [-20_000_000, 20_000_000], y: [-19_000_000, 19_000_000] },
};

/**
 * Text with anything Unicode holds but NUL (PostgreSQL text cannot): every plane, combining marks, RTL,
 * emoji sequences, and the strings that trip parsers (quotes, separators, line ends, words like NULL).
 */
const TRICKY = [
  '',
  ' ',
  '  lead and trail  ',
  'NULL',
  '\\N',
  '"',
  '""',
  "'",
  ',',
  ';',
  '\t',
  '\n',
  '\r\n',
  'a\nb',
  '\\',
  '<b>&amp;</b>',
  ']]>',
  'e\u0301\u0327',
  'שָׁלוֹם עליכם',
  'مرحبا 123',
  '👩‍👩‍👧‍👦🏳️‍🌈',
  '\uFEFFbom',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '０１２',
  '1e5',
  '-0',
  'true',
  '2024-01-01',
] as const;
export const text = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...TRICKY) },
  {
    weight: 3,
    arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map((s) => s.replace(/\0/g, '')),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
);

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const INT64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
export const int32 = fc.oneof(fc.constantFrom(INT32.min, INT32.max, 0, -1, 1), fc.integer(INT32));
export const int64 = fc
  .oneof(fc.constantFrom(INT64.min, INT64.max, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 0n), fc.bigInt(INT64))
  .map(String);
/** Doubles at their limits: ±max, the smallest subnormal, -0, and any finite value between. */
export const float64 = fc.oneof(
  fc.constantFrom(Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -0, 0.1, 1e-300, 2 ** 53 + 2),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
export const day = fc
  .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));

const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 4 });

/** A coordinate inside [lo, hi], often a round one (as surveyed data has), else any double. */
const coord = (lo: number, hi: number) => {
  const any = fc
    .double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true })
    .map((v) => (Object.is(v, -0) ? 0 : v));
  // A narrow range (a hole inside a small box) may hold no whole number at all.
  return Math.ceil(lo) <= Math.floor(hi)
    ? fc.oneof(fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) }), any)
    : any;
};

/** An axis-aligned box strictly inside [x0, x1] × [y0, y1], as two sorted distinct pairs. */
function box(x: [number, number], y: [number, number]) {
  return fc
    .tuple(coord(x[0], x[1]), coord(x[0], x[1]), coord(y[0], y[1]), coord(y[0], y[1]))
    .filter(
      ([a, b, c, d]) => Math.abs(a - b) > 1e-6 * (x[1] - x[0]) && Math.abs(c - d) > 1e-6 * (y[1] - y[0]),
    )
    .map(([a, b, c, d]) => ({
      x: [Math.min(a, b), Math.max(a, b)] as [number, number],
      y: [Math.min(c, d), Math.max(c, d)] as [number, number],
    }));
}

/** A valid polygon: a box, counter-clockwise (RFC 7946), with up to two box holes clockwise in disjoint halves. */
function polygon(x: [number, number], y: [number, number], z: () => fc.Arbitrary<number[]>) {
  return box(x, y).chain((outer) => {
    const [x0, x1] = outer.x;
    const [y0, y1] = outer.y;
    const mid = (x0 + x1) / 2;
    // Holes stay strictly inside their half, so rings never touch: the polygon stays valid.
    const inset = (a: number, b: number): [number, number] => [a + (b - a) / 8, b - (b - a) / 8];
    const hole = (hx: [number, number]) =>
      fc.option(box(inset(...hx), inset(y0, y1)), { nil: undefined, freq: 2 });
    return fc.tuple(hole([x0, mid]), hole([mid, x1]), z()).map(([h1, h2, zs]) => {
      const ring = (b: { x: [number, number]; y: [number, number] }, ccw: boolean, zv: number[]) => {
        const corners = [
          [b.x[0], b.y[0]],
          [b.x[1], b.y[0]],
          [b.x[1], b.y[1]],
          [b.x[0], b.y[1]],
        ];
        if (!ccw) corners.reverse();
        return [...corners, corners[0]!].map((p) => [...p, ...zv]);
      };
      return [
        ring(outer, true, zs),
        ...[h1, h2].filter((h) => h !== undefined).map((h) => ring(h, false, zs)),
      ];
    });
  });
}

/** One of `n` disjoint vertical strips of an extent, so multi-polygon parts never overlap. */
function strip(x: [number, number], i: number, n: number): [number, number] {
  const w = (x[1] - x[0]) / n;
  return [x[0] + i * w + w / 100, x[0] + (i + 1) * w - w / 100];
}

export function geometry(type: GeometryType, srid: Srid, withZ: boolean): fc.Arbitrary<Geometry> {
  const { x, y } = EXTENT[srid];
  const zv = () => (withZ ? coord(-10_000, 10_000).map((v) => [v]) : fc.constant([] as number[]));
  const pos = fc.tuple(coord(...x), coord(...y), zv()).map(([a, b, c]) => [a, b, ...c]);
  const line = fc.array(pos, { minLength: 2, maxLength: 5 }).filter(
    // Two equal points make a line of no length, which PostGIS calls invalid.
    (ps) => new Set(ps.map((p) => `${p[0]},${p[1]}`)).size === ps.length,
  );
  switch (type) {
    case 'Point':
      return pos.map((coordinates) => ({ type, coordinates }));
    case 'LineString':
      return line.map((coordinates) => ({ type, coordinates }));
    case 'Polygon':
      return polygon(x, y, zv).map((coordinates) => ({ type, coordinates }));
    case 'MultiPoint':
      return fc.array(pos, { minLength: 1, maxLength: 4 }).map((coordinates) => ({ type, coordinates }));
    case 'MultiLineString':
      return fc.array(line, { minLength: 1, maxLength: 3 }).map((coordinates) => ({ type, coordinates }));
    case 'MultiPolygon':
      return fc
        .integer({ min: 1, max: 3 })
        .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => polygon(strip(x, i, n), y, zv))))
        .map((coordinates) => ({ type, coordinates }));
    case 'GeometryCollection':
      return fc
        .array(fc.constantFrom('Point', 'LineString', 'Polygon') as fc.Arbitrary<GeometryType>, {
          minLength: 1,
          maxLength: 3,
        })
        .chain((types) => fc.tuple(...types.map((t) => geometry(t, srid, withZ))))
        .map((geometries) => ({ type, geometries }));
  }
}

/** Whether a geometry has no position: `POINT EMPTY`, a collection of nothing, ... */
export const isEmptyGeometry = (g: Geometry) =>
  g.type === 'GeometryCollection' ? g.geometries.length === 0 : g.coordinates.length === 0;

/** An empty geometry of a type, as WKT's `POINT EMPTY` and GeoJSON's empty coordinates say it. */
export function emptyOf(type: GeometryType): Geometry {
  if (type === 'GeometryCollection') return { type, geometries: [] };
  if (type === 'Point') return { type, coordinates: [] };
  return { type, coordinates: [] } as Geometry;
}

export interface TableOptions {
  readonly types?: readonly GeometryType[];
  readonly srids?: readonly Srid[];
  /** Whether rows may have an empty geometry (`POINT EMPTY`). */
  readonly empties?: boolean;
  readonly maxRows?: number;
  /** Doubles the format can hold (a .dbf cannot hold them all). */
  readonly doubles?: fc.Arbitrary<number>;
  /** 64-bit integers the format can hold, as digits (GDAL writes KML's as floats). */
  readonly bigints?: fc.Arbitrary<string>;
}

/** A table of 1 to `maxRows` rows with distinct ids, nulls in every column but `id`, and a geometry per row. */
export function table(options: TableOptions = {}): fc.Arbitrary<Table> {
  return fc
    .record({
      srid: fc.constantFrom(...(options.srids ?? SRIDS)),
      type: fc.constantFrom(...(options.types ?? GEOMETRY_TYPES)),
      z: fc.boolean(),
    })
    .chain(({ srid, type, z }) => {
      const geom = fc.oneof(
        { weight: 8, arbitrary: geometry(type, srid, z) },
        { weight: 1, arbitrary: fc.constant(null) },
        ...(options.empties ? [{ weight: 1, arbitrary: fc.constant(emptyOf(type)) }] : []),
      );
      const row = fc.record({
        txt: nullable(text),
        num: nullable(int32),
        big: nullable(options.bigints ?? int64),
        dbl: nullable(options.doubles ?? float64),
        day: nullable(day),
        flag: nullable(fc.boolean()),
        geom,
      });
      return fc
        .array(row, { minLength: 1, maxLength: options.maxRows ?? 4 })
        .map((rows) => ({ srid, type, z, rows: rows.map((r, i) => ({ rid: i + 1, ...r })) }));
    });
}
