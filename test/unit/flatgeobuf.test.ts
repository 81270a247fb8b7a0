import { describe, expect, it } from 'vitest';
import {
  type Bbox,
  type FeaturePage,
  FlatGeobufError,
  FlatGeobufFile,
} from '../../runtime/features/flatgeobuf.ts';
import { flatgeobufOf, gridPoints, type PointFeature } from '../helpers/partner-api.ts';

/** A file in memory behind the range reader, counting what is read. */
async function open(bytes: Buffer) {
  const reads: [number, number][] = [];
  const file = await FlatGeobufFile.open(async (start, end) => {
    reads.push([start, end]);
    return bytes.subarray(start, end);
  }, bytes.length);
  return { file, reads, bytesRead: () => reads.reduce((n, [a, b]) => n + b - a, 0) };
}

async function all(file: FlatGeobufFile, step: number, bbox?: Bbox) {
  const ids: number[] = [];
  const positions: number[] = [];
  for (let from: number | undefined = 0; from !== undefined; ) {
    const page: FeaturePage = bbox ? await file.search(bbox, from, step) : await file.page(from, step);
    ids.push(...page.features.map((f) => f.properties!.id as number));
    positions.push(...page.features.map((f) => f.id as number));
    from = page.next;
  }
  return { ids, positions };
}

const inside = (p: PointFeature, b: Bbox) => p.lon >= b[0] && p.lon <= b[2] && p.lat >= b[1] && p.lat <= b[3];

describe('FlatGeobuf read by ranges', () => {
  it('pages through every feature exactly once, and reads only the page it serves', async () => {
    // Prepare: 2,000 points written by ogr2ogr with its packed Hilbert R-tree.
    const points = gridPoints(2000);
    const bytes = await flatgeobufOf(points);
    const { file, bytesRead, reads } = await open(bytes);

    // Act: page through in 77s; then one page of 100 from the middle, counting the bytes read for it.
    const { ids, positions } = await all(file, 77);
    reads.length = 0;
    const page = await file.page(1000, 100);

    // Assess: every id once; positions are the ids of the features; a page reads its leaves and its features.
    expect(file.count).toBe(2000);
    expect(ids.length).toBe(2000);
    expect(new Set(ids)).toEqual(new Set(points.map((p) => p.id)));
    expect(positions).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(page.features.map((f) => f.id)).toEqual(Array.from({ length: 100 }, (_, i) => 1000 + i));
    expect(page.next).toBe(1100);
    expect(reads.length).toBe(2);
    expect(bytesRead()).toBeLessThan(bytes.length / 10);
    expect(page.features[0]).toMatchObject({ type: 'Feature', geometry: { type: 'Point' } });
  });

  it('finds what a bbox meets, page by page, as a scan of every feature would, and counts it', async () => {
    // Prepare
    const points = gridPoints(3000);
    const { file } = await open(await flatgeobufOf(points));
    const bbox: Bbox = [-3.05, 41.05, 1.15, 44.95];
    const expected = points.filter((p) => inside(p, bbox)).map((p) => p.id);

    // Act
    const { ids } = await all(file, 13, bbox);
    const counted = await file.countMeeting(bbox);
    const none = await file.search([100, 10, 101, 11], 0, 10);

    // Assess
    expect(expected.length).toBeGreaterThan(100);
    expect(ids.length).toBe(expected.length);
    expect(new Set(ids)).toEqual(new Set(expected));
    expect(counted).toBe(expected.length);
    expect(none).toEqual({ features: [], next: undefined });
    expect(await file.countMeeting([100, 10, 101, 11])).toBe(0);
    expect(await file.countMeeting([-180, -90, 180, 90])).toBe(3000);
  });

  it('reads files of one feature, of one node, and of one node and one more', async () => {
    for (const n of [1, 16, 17, 257]) {
      // Prepare
      const points = gridPoints(n);
      const { file } = await open(await flatgeobufOf(points));
      // Act
      const paged = await all(file, 10);
      const searched = await all(file, 10, [-180, -90, 180, 90]);
      // Assess
      expect(paged.ids.sort((a, b) => a - b)).toEqual(points.map((p) => p.id));
      expect(searched.ids.length).toBe(n);
      expect(await file.feature(n - 1)).toMatchObject({ id: n - 1 });
      expect(await file.feature(n)).toBeUndefined();
    }
  });

  it('refuses what is not a FlatGeobuf, and a file cut short', async () => {
    // Prepare
    const bytes = await flatgeobufOf(gridPoints(100));
    // Act + Assess
    await expect(open(Buffer.from('{"type":"FeatureCollection"}'))).rejects.toThrow(FlatGeobufError);
    const cut = bytes.subarray(0, bytes.length - 50);
    const { file } = await open(cut);
    await expect(file.page(0, 100)).rejects.toThrow(/cut short/);
  });
});
