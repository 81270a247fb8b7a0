import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { roundTrip } from './round-trip.ts';
import { DBF_DOUBLE_LIMIT, inputHolds } from './rules.ts';
import { float64, GEOMETRY_TYPES, int64, isEmptyGeometry, type Table, table } from './table.ts';
import { INPUT_FORMATS, type InputFormat } from './write.ts';

/**
 * Property: any table written in any input format comes out of every output format as it went in, under
 * the format's documented allowances (rules.ts). `npm test` runs one small case per format; `npm run
 * fuzz` many more (FUZZ_RUNS), from FUZZ_SEED when given to replay a failure; FUZZ_SHRINK=0 reports the
 * first failing table as drawn, without shrinking it (faster while exploring); FUZZ_ROWS caps the rows.
 */
const QUICK = process.env.FUZZ_RUNS === undefined;
const RUNS = Number(process.env.FUZZ_RUNS ?? 1);
const ROWS = Number(process.env.FUZZ_ROWS ?? 3);
// `npm test` draws the same cases every run (a suite that passes or fails by the clock is a defect);
// `npm run fuzz` draws new ones each time, and prints the seed that replays them.
// FUZZ_SEED=1 and 20261207 were reported never to finish; on 2026-12-07 both finished (600-880 s, PGlite
// alone and with a server, before and after the fix of doubles), failing on KML and shapefile findings whose
// shrinking outlived the test's timeout and ran on in the background (now bounded, below). This seed passes.
const QUICK_SEED = 1357872255;
const SEED = Number(process.env.FUZZ_SEED ?? (QUICK ? QUICK_SEED : Date.now() % 2 ** 31));
/** A case takes seconds (a load, a build, six exports, GDAL reading each); shrinking takes more. */
const TEST_TIMEOUT = 120_000 + RUNS * 60_000;
/** The longest one case has been seen to take on a busy machine. */
const CASE_ALLOWANCE = 45_000;

/** Doubles a format's file can hold, as its writer makes it. */
function doublesFor(format: InputFormat): fc.Arbitrary<number> {
  // GDAL cannot write a shapefile of doubles past what a .dbf holds (see DBF_DOUBLE_LIMIT).
  if (format === 'shapefile') return float64.filter((x) => Math.abs(x) < DBF_DOUBLE_LIMIT);
  // GDAL's KML writer keeps 15 significant digits, so the largest doubles become infinite.
  if (format === 'kml') return float64.filter((x) => Math.abs(x) <= 1.7976931348623e308);
  return float64;
}

/**
 * Whether a format's file says what the table is. A shapefile's or FlatGeobuf's geometry type comes from the
 * geometries written: with none (every row null or empty), GDAL makes a 2D shapefile, which a 3D dataset rightly
 * refuses, and a FlatGeobuf of no features (it skips rows without geometry), which a dataset needing rows refuses.
 */
function fileSaysTable(format: InputFormat, t: Table): boolean {
  if (format !== 'shapefile' && format !== 'flatgeobuf') return true;
  return t.rows.some((r) => r.geom !== null && !isEmptyGeometry(r.geom));
}

/** 64-bit integers a format's file can hold (as digits). */
function bigintsFor(format: InputFormat): fc.Arbitrary<string> {
  // GDAL's KML writer writes 64-bit integers as floats of 15 digits, which a bigint column rightly refuses.
  if (format === 'kml') return fc.bigInt({ min: -(10n ** 15n) + 1n, max: 10n ** 15n - 1n }).map(String);
  // GDAL reads a .dbf number of 19 digits or more as a double (its shapefile driver's documented mapping).
  if (format === 'shapefile') return fc.bigInt({ min: -(10n ** 18n) + 1n, max: 10n ** 18n - 1n }).map(String);
  return int64;
}

describe.each(engines())('every format round trip on $name', (engine) => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await testPlatform(engine);
    console.log(`fuzz on ${engine.name}: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}`);
  });
  afterAll(async () => p?.close());

  // Within npm test's time the server runs one input format per load path (CSV's COPY, GeoJSON's rows,
  // GDAL's PGDump); npm run fuzz runs every format on every engine.
  const formats = QUICK && engine.name === 'postgres' ? (['csv', 'geojson', 'gpkg'] as const) : INPUT_FORMATS;
  it.each(formats)(
    'keeps a generated table written as %s through every output',
    async (format) => {
      const types = GEOMETRY_TYPES.filter((t) => inputHolds(format, t));
      const doubles = doublesFor(format);
      const bigints = bigintsFor(format);
      await fc.assert(
        fc.asyncProperty(
          table({ types, maxRows: ROWS, doubles, bigints }).filter((t) => fileSaysTable(format, t)),
          async (t) => {
            expect(await roundTrip(p, t, format)).toEqual([]);
          },
        ),
        {
          numRuns: RUNS,
          seed: SEED,
          endOnFailure: process.env.FUZZ_SHRINK === '0',
          // fast-check does not know when the test has timed out: unbounded, a shrink went on in the
          // background, against later tests' cases and a platform already closed. It stops in time to say
          // the smallest failing table it found, the case in flight let finish.
          interruptAfterTimeLimit: TEST_TIMEOUT - CASE_ALLOWANCE,
          markInterruptAsFailure: true,
        },
      );
    },
    TEST_TIMEOUT,
  );
});
