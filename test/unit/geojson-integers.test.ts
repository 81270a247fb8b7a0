import { describe, expect, it } from 'vitest';
import { parseKeepingIntegers } from '../../runtime/load/geojson-rows.ts';

describe('GeoJSON properties with integers past 2^53', () => {
  it('keeps their digits, marked, where JSON.parse would round them', () => {
    expect(parseKeepingIntegers('{"a":1813190221793149894,"b":[-9223372036854775808]}')).toEqual({
      a: '\u0000digits:1813190221793149894',
      b: ['\u0000digits:-9223372036854775808'],
    });
  });

  it('leaves numbers a double holds exactly, fractions, exponents and strings as JSON.parse reads them', () => {
    const text =
      '{"safe":9007199254740991,"frac":0.12345678901234567,"exp":12345678901234567e2,"s":"12345678901234567890"}';
    expect(parseKeepingIntegers(text)).toEqual(JSON.parse(text));
  });

  it('skips escaped quotes inside strings', () => {
    expect(parseKeepingIntegers('{"s":"a\\"12345678901234567890","n":12345678901234567890}')).toEqual({
      s: 'a"12345678901234567890',
      n: '\u0000digits:12345678901234567890',
    });
  });
});
