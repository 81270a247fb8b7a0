import { describe, expect, it } from 'vitest';
import { type Allowances, differences } from './equivalence.ts';
import { INPUT_RULES } from './rules.ts';
import type { Row } from './table.ts';

/**
 * The comparator's slack is the fuzzer's claim about each format: too much and a real loss passes unseen.
 * These pin what the text allowances forgive, and what they must not.
 */
const row = (txt: string | null): Row => ({
  rid: 1,
  txt,
  num: null,
  big: null,
  dbl: null,
  day: null,
  flag: null,
  geom: null,
});
const same = (written: string | null, read: string | null, a: Allowances) =>
  differences([row(written)], [row(read)], a, 4326).length === 0;

describe('the format fuzzer comparing text', () => {
  it('forgives a shapefile the spaces at either end of a value, and nothing else', () => {
    const dbf = INPUT_RULES.shapefile;
    expect(same(' ', null, dbf)).toBe(true);
    expect(same('  lead and trail  ', 'lead and trail', dbf)).toBe(true);
    expect(same('\tx\t', 'x', dbf)).toBe(false);
    expect(same('a b', 'ab', dbf)).toBe(false);
    expect(same('\u00a0z', 'z', dbf)).toBe(false);
  });

  it('forgives a KML file white space at either end of a value, but not a no-break space or a null', () => {
    const kml = INPUT_RULES.kml;
    expect(same(' ', '', kml)).toBe(true);
    expect(same('\n y \n', 'y \n', kml)).toBe(true);
    expect(same('\u00a0z\u00a0', 'z', kml)).toBe(false);
    // KML keeps null (no element) apart from "" (an empty one): trimming does not make them one.
    expect(same(' ', null, kml)).toBe(false);
    expect(same('x y', 'xy', kml)).toBe(false);
  });

  it('forgives a KML file the control characters XML cannot hold, and only those', () => {
    const kml = INPUT_RULES.kml;
    expect(same('a\u0002b\u001fc', 'abc', kml)).toBe(true);
    expect(same('a\tb', 'ab', kml)).toBe(false);
    expect(same('a\u007fb', 'ab', kml)).toBe(false);
    expect(same('a\u0002b', 'ab', INPUT_RULES.geojson)).toBe(false);
  });

  it('forgives nothing in a format without a text allowance', () => {
    expect(same(' ', '', INPUT_RULES.gpkg)).toBe(false);
    expect(same('', null, INPUT_RULES.gpkg)).toBe(false);
  });
});
