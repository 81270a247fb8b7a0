import { describe, expect, it } from 'vitest';
import { featureTexts, GeoJsonStructureError } from '../../runtime/load/geojson-features.ts';

async function* pieces(text: string, size: number): AsyncGenerator<Buffer> {
  const buf = Buffer.from(text);
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function features(text: string, size: number): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const t of featureTexts(pieces(text, size))) {
    const whole = JSON.parse(t.text.toString());
    // The spans found on the way hold exactly the feature's own members.
    const member = (span: typeof t.geometry) =>
      span === undefined
        ? undefined
        : span === null
          ? null
          : JSON.parse(t.text.toString('utf8', span[0], span[1]));
    expect(t.type).toBe(whole.type);
    expect(member(t.geometry)).toEqual(
      whole.geometry === null || typeof whole.geometry !== 'object'
        ? whole.geometry === undefined
          ? undefined
          : null
        : whole.geometry,
    );
    expect(member(t.properties)).toEqual(whole.properties === null ? null : whole.properties);
    out.push(whole);
  }
  return out;
}

const tricky = [
  {
    type: 'Feature',
    properties: { s: 'brace } and [ bracket', q: 'a "quoted" \\ back\\\\slash\\' },
    geometry: null,
  },
  {
    type: 'Feature',
    properties: { nested: { features: [{ a: 1 }] }, ü: 'ünïcödé ✓' },
    geometry: { type: 'Point', coordinates: [1, 2] },
  },
  {
    type: 'Feature',
    properties: {},
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [0, 0],
          [1, 0],
          [1, 1],
          [0, 0],
        ],
      ],
    },
  },
];

describe('featureTexts', () => {
  it.each([1, 2, 3, 7, 13, 1000])(
    'yields each feature whole whatever the read size (%i bytes)',
    async (size) => {
      const doc = JSON.stringify(
        {
          type: 'FeatureCollection',
          name: 'x{',
          crs: { type: 'name' },
          features: tricky,
          bbox: [0, 0, 1, 1],
        },
        null,
        1,
      );
      expect(await features(doc, size)).toEqual(tricky);
    },
  );

  it('finds members in any order, with spaces, and geometry null or missing', async () => {
    const odd = [
      {
        geometry: { coordinates: [1, 2], type: 'Point' },
        id: 7,
        type: 'Feature',
        properties: { a: { b: [1] } },
      },
      { type: 'Feature', geometry: null, properties: null },
      { type: 'Feature', properties: { x: 'no geometry' } },
    ];
    const doc = `{ "type" : "FeatureCollection" , "features" : [ ${odd.map((f) => JSON.stringify(f, null, 3)).join(' ,\n ')} ] }`;
    for (const size of [1, 5, 64]) expect(await features(doc, size)).toEqual(odd);
  });

  it('accepts "features" before "type" and an empty collection', async () => {
    expect(
      await features(`{"features":[${JSON.stringify(tricky[0])}],"type":"FeatureCollection"}`, 4),
    ).toEqual([tricky[0]]);
    expect(await features('{"type":"FeatureCollection","features":[]}', 4)).toEqual([]);
  });

  it('refuses what is not a FeatureCollection, with the reason', async () => {
    await expect(features(JSON.stringify(tricky[0]), 8)).rejects.toThrow(/FeatureCollection/);
    await expect(features('[1,2]', 8)).rejects.toThrow(/found an array/);
    await expect(features('{"type":"FeatureCollection","features":[1]}', 8)).rejects.toThrow(
      /must be an object/,
    );
    await expect(
      features('{"type":"FeatureCollection","features":[{"type":"Feature"', 8),
    ).rejects.toBeInstanceOf(GeoJsonStructureError);
  });
});
