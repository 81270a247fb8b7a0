import { describe, expect, it } from 'vitest';
import { prng } from '../../bench/data.ts';
import { geometryToEwkbHex } from '../../runtime/load/geojson-geometry.ts';
import { geojsonToEwkbHex } from '../../runtime/load/wkb.ts';

const fast = (g: unknown, text = JSON.stringify(g)) => {
  const buf = Buffer.from(`  ${text} `);
  return geometryToEwkbHex(buf, 1, buf.length, 4326);
};

describe('geometryToEwkbHex', () => {
  it('writes exactly what the JSON.parse path writes, for every geometry type', () => {
    const geoms = [
      { type: 'Point', coordinates: [1.5, -2.25] },
      { type: 'Point', coordinates: [1, 2, 3] },
      {
        type: 'LineString',
        coordinates: [
          [0, 0],
          [1e-7, 12345.678901234],
        ],
      },
      {
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [1, 0],
            [1, 1],
            [0, 0],
          ],
          [
            [0.1, 0.1],
            [0.2, 0.1],
            [0.2, 0.2],
            [0.1, 0.1],
          ],
        ],
      },
      {
        type: 'MultiPoint',
        coordinates: [
          [1, 2],
          [3, 4],
        ],
      },
      {
        type: 'MultiLineString',
        coordinates: [
          [
            [0, 0],
            [1, 1],
          ],
          [
            [2, 2],
            [3, 3],
            [4, 4],
          ],
        ],
      },
      {
        type: 'MultiPolygon',
        coordinates: [
          [
            [
              [0, 0],
              [1, 0],
              [1, 1],
              [0, 0],
            ],
          ],
          [
            [
              [5, 5],
              [6, 5],
              [6, 6],
              [5, 5],
            ],
          ],
        ],
      },
    ];
    for (const g of geoms) expect(fast(g), g.type).toBe(geojsonToEwkbHex(g, 4326));
  });

  it('reads every number to the same double as JSON.parse: exponents, long mantissas, negative zero', () => {
    const r = prng(1);
    const texts: string[] = [
      '-0.0',
      '0',
      '1e3',
      '1E-3',
      '2.5e+2',
      '123456789012345678',
      '0.1234567890123456789',
      '-1.7976931348623157e308',
      '5e-324',
      '1e23',
      '1e-23',
      '00.5',
    ];
    for (let k = 0; k < 2000; k++) {
      const v = (r() - 0.5) * 10 ** Math.floor(r() * 12 - 4);
      texts.push(String(v), v.toFixed(Math.floor(r() * 10)), v.toExponential(Math.floor(r() * 15)));
    }
    for (const t of texts) {
      const text = `{"type":"Point","coordinates":[${t},${t}]}`;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        continue;
      }
      expect(fast(undefined, text), t).toBe(geojsonToEwkbHex(parsed as { type: string }, 4326));
    }
  });

  it('skips members it does not use, in any order', () => {
    const text =
      '{"bbox":[0,0,1,1],"coordinates":[[0,0],[1,1]],"crs":{"type":"name","properties":{"name":"x"}},"type":"LineString"}';
    expect(fast(undefined, text)).toBe(
      geojsonToEwkbHex(
        {
          type: 'LineString',
          coordinates: [
            [0, 0],
            [1, 1],
          ],
        },
        4326,
      ),
    );
  });

  it('leaves unusual shapes to the JSON.parse path', () => {
    expect(
      fast({ type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: [0, 0] }] }),
    ).toBeUndefined();
    expect(fast({ type: 'LineString', coordinates: [] })).toBeUndefined();
    expect(
      fast({
        type: 'LineString',
        coordinates: [
          [0, 0],
          [1, 1, 1],
        ],
      }),
    ).toBeUndefined();
    expect(
      fast({
        type: 'Polygon',
        coordinates: [
          [0, 0],
          [1, 1],
        ],
      }),
    ).toBeUndefined();
    expect(fast({ type: 'Point', coordinates: [0, 'x'] })).toBeUndefined();
    expect(fast(undefined, '{"type":"Point","coordinates":[1,2]')).toBeUndefined();
  });
});
