import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetGdalChoice } from '../../runtime/adapters/gdal/facade.ts';
import { type Dataset, Dataset as DatasetSchema } from '../../runtime/catalog/schema.ts';
import { describeSource } from '../../runtime/load/gdal-info.ts';
import { gdalRows } from '../../runtime/load/gdal-rows.ts';
import type { GdalLayer } from '../../runtime/load/gdal-source.ts';
import { convert, type Feature, geojsonFile } from '../helpers/gdal.ts';

/** Doubles that 15 significant digits do not tell apart from their neighbours, or that they overflow. */
const DOUBLES = [
  0.30000000000000004,
  -1.2162651466121263e251,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  2.2250738585072014e-308,
  2.225073858507201e-308,
  1 / 3,
  123456789.12345679,
  null,
];

const FEATURES: Feature[] = DOUBLES.map((x, i) => ({
  properties: { 'a "quoted" name': x, note: i === 0 ? 'tab\there, newline\nthere, back\\slash' : `n${i}` },
  geometry: { type: 'Point', coordinates: [0.1 + 0.2, -Number.MIN_VALUE] },
}));

const dataset: Dataset = DatasetSchema.parse({
  name: 'doubles',
  format: 'gpkg',
  columns: [
    { name: 'x', source: 'a "quoted" name', type: 'double' },
    { name: 'note', type: 'text' },
  ],
  geometry: { kind: 'geojson', type: 'Point', sourceSrid: 4326 },
});

/** The rows gdalRows streams, cut into values (COPY text). */
async function rowsOf(layer: GdalLayer): Promise<string[][]> {
  let text = '';
  for await (const chunk of gdalRows(layer)) text += chunk.data.toString('utf8');
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => line.split('\t'));
}

describe.each(['system', 'embedded'] as const)('doubles read through the %s GDAL', (choice) => {
  let dir: string;
  let layer: GdalLayer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-gdal-doubles-'));
    const path = await convert(
      await geojsonFile(dir, 'doubles', FEATURES),
      join(dir, 'doubles.gpkg'),
      'GPKG',
      {
        layer: 'the "odd" layer',
      },
    );
    resetGdalChoice(choice);
    const info = (await describeSource(path)).layers[0]!;
    layer = {
      file: 'doubles.gpkg',
      path,
      openOptions: [],
      layer: info,
      dataset,
      fields: [
        { column: dataset.columns[0]!, field: 'a "quoted" name' },
        { column: dataset.columns[1]!, field: 'note' },
      ],
    };
  }, 120_000);
  afterAll(async () => {
    resetGdalChoice();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every digit of each double, and the other values as they were', async () => {
    const rows = await rowsOf(layer);
    expect(rows.map((r) => (r[1] === '\\N' ? null : Number(r[1])))).toEqual(DOUBLES);
    expect(rows[0]![2]).toBe('tab\\there, newline\\nthere, back\\\\slash');
    // The geometry, hex EWKB, was exact before: its doubles are as they were written.
    expect(rows[0]![0]).toBe(`0101000020E6100000${hex(0.1 + 0.2)}${hex(-Number.MIN_VALUE)}`);
  }, 120_000);
});

/** A double as the 16 hex digits of its little-endian bytes (EWKB's order here). */
function hex(x: number): string {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return b.toString('hex').toUpperCase();
}
