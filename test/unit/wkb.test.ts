import { describe, expect, it } from 'vitest';
import { GeometryError, geojsonToEwkbHex } from '../../runtime/load/wkb.ts';

describe('geojsonToEwkbHex', () => {
  it('writes little-endian EWKB with the SRID flag', () => {
    // 01 | 01000020 (Point + SRID flag) | E6100000 (4326) | x=1.0 | y=2.0
    expect(geojsonToEwkbHex({ type: 'Point', coordinates: [1, 2] }, 4326)).toBe(
      '0101000020e6100000000000000000f03f0000000000000040',
    );
  });

  it('sets the Z flag for 3D positions and writes the SRID only on the outer geometry', () => {
    const hex = geojsonToEwkbHex({ type: 'MultiPoint', coordinates: [[1, 2, 3]] }, 27700)!;
    expect(hex.slice(0, 18)).toBe('01040000a0346c0000');
    // The part: a Point with Z and no SRID.
    expect(hex.slice(26, 36)).toBe('0101000080');
  });

  it('returns null for a null geometry', () => {
    expect(geojsonToEwkbHex(null, 4326)).toBeNull();
  });

  it('says what is wrong with a broken structure', () => {
    expect(() => geojsonToEwkbHex({ type: 'Circle', coordinates: [0, 0] }, 4326)).toThrow(
      /unknown geometry type "Circle"/,
    );
    expect(() => geojsonToEwkbHex({ type: 'Point', coordinates: [0] }, 4326)).toThrow(GeometryError);
    expect(() =>
      geojsonToEwkbHex(
        {
          type: 'LineString',
          coordinates: [
            [0, 0],
            [1, '1'],
          ],
        },
        4326,
      ),
    ).toThrow(/coordinates must be numbers/);
    expect(() =>
      geojsonToEwkbHex(
        {
          type: 'LineString',
          coordinates: [
            [0, 0, 1],
            [1, 1],
          ],
        },
        4326,
      ),
    ).toThrow(/mixes 2D and 3D/);
  });
});
