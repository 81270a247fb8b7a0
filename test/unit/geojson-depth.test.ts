import { describe, expect, it } from 'vitest';
import { featureTexts, MAX_FEATURE_NESTING } from '../../runtime/load/geojson-features.ts';
import { FeatureProblemError, RowWriter } from '../../runtime/load/geojson-rows.ts';

async function* pieces(text: string, size: number): AsyncGenerator<Buffer> {
  const buf = Buffer.from(text);
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** A feature whose property `x` holds `levels` arrays, one inside the other. */
const nested = (levels: number) =>
  `{"type":"Feature","properties":{"x":${'['.repeat(levels)}1${']'.repeat(levels)}},"geometry":null}`;

describe('a GeoJSON feature nested too deep', () => {
  it('is marked by the scan, with the features around it read as usual, however deep it goes', async () => {
    // Levels are counted below the feature's own object: `properties` is one, so `x` may hold MAX - 1 arrays.
    const text = `{"type":"FeatureCollection","features":[${[
      nested(MAX_FEATURE_NESTING - 1),
      nested(100_000),
      nested(MAX_FEATURE_NESTING),
      '{"type":"Feature","properties":{"x":1},"geometry":null}',
    ].join(',')}]}`;

    const problems: (string | undefined)[] = [];
    for await (const f of featureTexts(pieces(text, 4096))) problems.push(f.problem);

    expect(problems).toEqual([
      undefined,
      `the feature nests arrays and objects more than ${MAX_FEATURE_NESTING} levels deep`,
      `the feature nests arrays and objects more than ${MAX_FEATURE_NESTING} levels deep`,
      undefined,
    ]);
  });

  it('is refused as a problem of its own feature when its row is made, never parsed', async () => {
    const text = `{"type":"FeatureCollection","features":[${nested(100_000)}]}`;
    const writer = new RowWriter({ types: ['json'], keys: ['x'], srid: 4326, withGeometry: false });

    const errors: unknown[] = [];
    for await (const f of featureTexts(pieces(text, 1 << 16)))
      try {
        writer.add(f, 7);
      } catch (e) {
        errors.push(e);
      }

    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(FeatureProblemError);
    expect((errors[0] as FeatureProblemError).problem).toMatchObject({ feature: 7, reason: /more than 64/ });
    expect(writer.rows).toBe(0);
  });
});
