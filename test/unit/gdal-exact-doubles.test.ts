import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseOgrinfo } from '../../runtime/load/gdal-info.ts';
import { exactDouble, joinExact } from '../../runtime/load/gdal-rows.ts';

/** C's `%.15g` as GDAL prints a double: 15 significant digits, correctly rounded (the form does not matter to a reader). */
const g15 = (x: number) => (Object.is(x, -0) ? '-0' : Number.isFinite(x) ? x.toPrecision(15) : String(x));

/** The three parts GDAL's SQL computes for x (gdal-rows.ts), each printed as PGDump prints it. */
function parts(x: number): [string, string, string] {
  const half = x * 0.5;
  const rest = half - Number(g15(half));
  const low = x - half * 2;
  return [g15(half), g15(rest), g15(low)];
}

const EDGES = [
  0.30000000000000004,
  -1.2162651466121263e251,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  2.2250738585072014e-308, // the smallest normal double
  2.225073858507201e-308, // the largest subnormal one
  1.5e-323, // a subnormal whose half drops a bit
  9007199254740994,
  1 / 3,
  1e21,
  -0.1,
  0,
];

describe("a double read through GDAL's three printed parts", () => {
  it('adds back to every digit of the double at the edges of the range', () => {
    for (const x of EDGES) expect(Number(exactDouble(...parts(x)))).toBe(x);
  });

  it('adds back to every double', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        expect(Object.is(Number(exactDouble(...parts(x))), x)).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('keeps the sign of a negative zero, and NaN, the infinities and null as PGDump prints them', () => {
    expect(exactDouble(...parts(-0))).toBe('-0');
    expect(exactDouble('NaN', 'NaN', 'NaN')).toBe('NaN');
    expect(exactDouble('-Infinity', 'NaN', 'NaN')).toBe('-Infinity');
    expect(exactDouble('\\N', '\\N', '\\N')).toBe('\\N');
  });

  it("joins each double's parts in a row, leaving the other values as they are", () => {
    const row = ['0101', 'a\\tb', ...parts(0.30000000000000004), '7', ...parts(-Number.MAX_VALUE)].join('\t');
    expect(joinExact(row, [2, 6])).toBe(
      ['0101', 'a\\tb', '0.30000000000000004', '7', '-1.7976931348623157e+308'].join('\t'),
    );
  });

  it('tells a single-precision Real from a double, which alone is read in parts', () => {
    const info = parseOgrinfo(
      "INFO: Open of `x.gpkg'\n      using driver `GPKG' successful.\n\nLayer name: t\nGeometry: None\nf4: Real(Float32) (0.0)\nf8: Real (0.0)\n",
    );
    expect(info.layers[0]!.fields).toEqual([
      { name: 'f4', type: 'Real', float32: true },
      { name: 'f8', type: 'Real' },
    ]);
  });
});
