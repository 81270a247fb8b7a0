// The GDAL formats part of `npm run bench`: a GeoPackage of points and a zipped Shapefile of polygons in
// EPSG:27700, ingested by Strata (archive, load, transform, index) and by ogr2ogr -f PostgreSQL (load,
// transform and index only); and the points exported to GeoPackage (Strata through ogr2ogr) and FlatGeobuf
// (Strata's own writer) by both.
import { createWriteStream, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { GB_BNG, writePointsCsv, writePolygonsGeoJson } from './data.ts';

export interface Result {
  name: string;
  rows: number;
  seconds: number;
  rssMb?: number;
  childRssMb?: number;
  /** Set when Strata ran on the embedded (WebAssembly) GDAL, whose memory is not held to the 256 MB target. */
  embedded?: boolean;
}

/** The worker's environment for the embedded GDAL: forced, as on a machine without ogr2ogr. */
const EMBEDDED = { STRATA_GDAL: 'embedded' };

export interface BenchContext {
  readonly out: string;
  readonly pgConn: string;
  readonly sh: (
    cmd: string,
    args: string[],
    env?: NodeJS.ProcessEnv,
  ) => Promise<{ stdout: string; ms: number }>;
  readonly q: (sql: string) => Promise<unknown>;
  readonly settle: (keep?: string[]) => Promise<void>;
  readonly worker: (args: string[], env?: NodeJS.ProcessEnv) => Promise<Record<string, unknown>>;
  readonly record: (r: Result) => void;
}

export interface GdalFiles {
  readonly gpkg: string;
  readonly shp: string;
  readonly points: number;
  readonly polygons: number;
}

async function zipDir(dir: string, zipPath: string): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const f of readdirSync(dir).sort()) zip.addFile(join(dir, f), f);
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(zipPath));
}

/** The two input files, made once (by ogr2ogr, from deterministic CSV and GeoJSON) and kept in bench/out. */
export async function gdalFiles(ctx: BenchContext, points: number, polygons: number): Promise<GdalFiles> {
  const gpkg = join(ctx.out, `points-bng-${points}.gpkg`);
  const shp = join(ctx.out, `polygons-bng-${polygons}.zip`);
  if (!existsSync(gpkg)) {
    const csv = join(ctx.out, `points-bng-${points}.csv`);
    await writePointsCsv(csv, points, GB_BNG);
    await ctx.sh('ogr2ogr', [
      '-f',
      'GPKG',
      `${gpkg}.part`,
      csv,
      '-nln',
      'points',
      '-oo',
      'X_POSSIBLE_NAMES=x',
      '-oo',
      'Y_POSSIBLE_NAMES=y',
      '-oo',
      'AUTODETECT_TYPE=YES',
      '-a_srs',
      'EPSG:27700',
      '-nlt',
      'POINT',
    ]);
    await ctx.sh('mv', [`${gpkg}.part`, gpkg]);
    rmSync(csv);
  }
  if (!existsSync(shp)) {
    const json = join(ctx.out, `polygons-bng-${polygons}.geojson`);
    const dir = join(ctx.out, `polygons-bng-${polygons}`);
    await writePolygonsGeoJson(json, polygons, GB_BNG);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    await ctx.sh('ogr2ogr', [
      '-f',
      'ESRI Shapefile',
      join(dir, 'polygons.shp'),
      json,
      '-a_srs',
      'EPSG:27700',
      '-nlt',
      'POLYGON',
    ]);
    await zipDir(dir, `${shp}.part`);
    await ctx.sh('mv', [`${shp}.part`, shp]);
    rmSync(dir, { recursive: true });
    rmSync(json);
  }
  return { gpkg, shp, points, polygons };
}

const ratio = (strata: Result, other: Result) => other.seconds / strata.seconds;

/** One round of the GDAL part: every tool once, back to back. Returns its ratios. */
export async function gdalRound(
  ctx: BenchContext,
  files: GdalFiles,
  roundNo: number,
): Promise<{ ratio: string; value: number; target: number | null }[]> {
  const { sh, record, settle } = ctx;
  const kept: string[] = [];
  const ogrLoad = async (label: string, source: string, rows: number, nln: string, transform: boolean) => {
    await settle(kept);
    const { ms } = await sh(
      'ogr2ogr',
      [
        '-f',
        'PostgreSQL',
        ctx.pgConn,
        source,
        '-overwrite',
        '-nln',
        nln,
        '-lco',
        'SCHEMA=bench',
        '-lco',
        'GEOMETRY_NAME=geom',
        '-lco',
        'SPATIAL_INDEX=GIST',
        ...(transform ? ['-t_srs', 'EPSG:4326'] : []),
      ],
      { PG_USE_COPY: 'YES' },
    );
    const r = { name: `ogr2ogr -f PostgreSQL ${label}`, rows, seconds: ms / 1000 };
    record(r);
    return r;
  };
  let n = 0;
  const strataIngest = async (
    label: string,
    format: string,
    file: string,
    rows: number,
    srid: number,
    type: string,
    embedded = false,
  ) => {
    await settle(kept);
    const r = await ctx.worker(
      ['ingest', format, file, `bench_${format}_${roundNo}_${++n}`, String(srid), type],
      embedded ? EMBEDDED : {},
    );
    const result = {
      name: `strata ingest ${label}${embedded ? ' (embedded GDAL)' : ''}`,
      embedded,
      rows: r.rows as number,
      seconds: ((r.archiveMs as number) + (r.loadMs as number)) / 1000,
      rssMb: r.rssMb as number,
      childRssMb: r.childRssMb as number,
      table: r.table as string,
    };
    if (result.rows !== rows) throw new Error(`${label}: ${result.rows} rows, expected ${rows}`);
    record(result);
    return result;
  };
  /** Where ogr2ogr's time goes, for the choice of route: reading into a PostgreSQL dump, with and without -t_srs. */
  const ogrDump = async (label: string, source: string, rows: number, transform: boolean) => {
    const { ms } = await sh('ogr2ogr', [
      '--config',
      'PG_USE_COPY',
      'YES',
      '-f',
      'PGDump',
      '/dev/null',
      source,
      '-lco',
      'CREATE_TABLE=OFF',
      ...(transform ? ['-t_srs', 'EPSG:4326'] : []),
    ]);
    const r = { name: `ogr2ogr -f PGDump /dev/null ${label}`, rows, seconds: ms / 1000 };
    record(r);
    return r;
  };
  const shpSource = `/vsizip/${files.shp}/polygons.shp`;

  process.stderr.write(
    `\ningest ${files.points.toLocaleString('en')} points (GeoPackage, EPSG:27700 -> 4326, spatial index)\n`,
  );
  const ogrPts = await ogrLoad('GeoPackage, -t_srs 4326', files.gpkg, files.points, 'ogr_gpkg', true);
  const strataPts = await strataIngest('GeoPackage -> 4326', 'gpkg', files.gpkg, files.points, 4326, 'Point');
  kept.push(strataPts.table);
  const ogrPtsSame = await ogrLoad(
    'GeoPackage, no transform',
    files.gpkg,
    files.points,
    'ogr_gpkg_same',
    false,
  );
  const strataPtsSame = await strataIngest(
    'GeoPackage, no transform',
    'gpkg',
    files.gpkg,
    files.points,
    27700,
    'Point',
  );
  const dumpPlain = await ogrDump('GeoPackage', files.gpkg, files.points, false);
  const dumpTransform = await ogrDump('GeoPackage, -t_srs 4326', files.gpkg, files.points, true);

  process.stderr.write(
    `\ningest ${files.polygons.toLocaleString('en')} polygons (zipped Shapefile, EPSG:27700 -> 4326, spatial index)\n`,
  );
  const ogrPolys = await ogrLoad('Shapefile, -t_srs 4326', shpSource, files.polygons, 'ogr_shp', true);
  const strataPolys = await strataIngest(
    'Shapefile -> 4326',
    'shapefile',
    files.shp,
    files.polygons,
    4326,
    'Polygon',
  );
  const ogrPolysSame = await ogrLoad(
    'Shapefile, no transform',
    shpSource,
    files.polygons,
    'ogr_shp_same',
    false,
  );
  const strataPolysSame = await strataIngest(
    'Shapefile, no transform',
    'shapefile',
    files.shp,
    files.polygons,
    27700,
    'Polygon',
  );
  await settle(kept);

  process.stderr.write('\nexport the points (EPSG:4326)\n');
  const table = strataPts.table;
  const ogrExport = async (driver: string, ext: string) => {
    const out = join(ctx.out, `ogr-export.${ext}`);
    rmSync(out, { force: true });
    const { ms } = await sh('ogr2ogr', [
      '-f',
      driver,
      out,
      ctx.pgConn,
      '-sql',
      `SELECT * FROM datasets."${table}"`,
      '-nln',
      'points',
    ]);
    const r = { name: `ogr2ogr PostgreSQL -> ${driver}`, rows: files.points, seconds: ms / 1000 };
    record(r);
    return r;
  };
  const strataExport = async (format: string, embedded = false) => {
    const r = await ctx.worker(['export', 'datasets', table, format], embedded ? EMBEDDED : {});
    const result = {
      name: `strata export ${format}${embedded ? ' (embedded GDAL)' : ''}`,
      embedded,
      rows: r.rows as number,
      seconds: (r.ms as number) / 1000,
      rssMb: r.rssMb as number,
      childRssMb: r.childRssMb as number,
    };
    record(result);
    return result;
  };
  const ogrGpkg = await ogrExport('GPKG', 'gpkg');
  const strataGpkg = await strataExport('gpkg');
  const ogrFgb = await ogrExport('FlatGeobuf', 'fgb');
  const strataFgb = await strataExport('flatgeobuf');

  // The embedded GDAL on the same files, as on a machine without ogr2ogr: its time includes loading the
  // WebAssembly (once a process, as a command pays it), and its GeoPackage is read from a file, not a pipe.
  process.stderr.write('\nthe same on the embedded GDAL (WebAssembly)\n');
  const wasmPts = await strataIngest(
    'GeoPackage -> 4326',
    'gpkg',
    files.gpkg,
    files.points,
    4326,
    'Point',
    true,
  );
  kept.push(wasmPts.table);
  const wasmPolys = await strataIngest(
    'Shapefile -> 4326',
    'shapefile',
    files.shp,
    files.polygons,
    4326,
    'Polygon',
    true,
  );
  await settle(kept);
  // FlatGeobuf is Strata's own writer, GDAL or not: only the GeoPackage export has an embedded-GDAL side.
  const wasmGpkg = await strataExport('gpkg', true);
  /** Time on the embedded GDAL over time on the system's: how much slower a machine without GDAL is. */
  const slower = (wasm: Result, native: Result) => wasm.seconds / native.seconds;

  return [
    {
      ratio: 'GeoPackage points ingest vs ogr2ogr (-> 4326, index)',
      value: ratio(strataPts, ogrPts),
      target: 1,
    },
    {
      ratio: 'Shapefile polygons ingest vs ogr2ogr (-> 4326, index)',
      value: ratio(strataPolys, ogrPolys),
      target: 1,
    },
    {
      ratio: 'GeoPackage points ingest vs ogr2ogr (no transform)',
      value: ratio(strataPtsSame, ogrPtsSame),
      target: null,
    },
    {
      ratio: 'Shapefile polygons ingest vs ogr2ogr (no transform)',
      value: ratio(strataPolysSame, ogrPolysSame),
      target: null,
    },
    {
      ratio: "ogr2ogr's own -t_srs cost (PGDump, with / without)",
      value: dumpTransform.seconds / dumpPlain.seconds,
      target: null,
    },
    { ratio: 'GeoPackage export vs ogr2ogr from PostgreSQL', value: ratio(strataGpkg, ogrGpkg), target: 1 },
    { ratio: 'FlatGeobuf export vs ogr2ogr from PostgreSQL', value: ratio(strataFgb, ogrFgb), target: 2 },
    {
      ratio: 'embedded/system GDAL time: GeoPackage ingest',
      value: slower(wasmPts, strataPts),
      target: null,
    },
    {
      ratio: 'embedded/system GDAL time: Shapefile ingest',
      value: slower(wasmPolys, strataPolys),
      target: null,
    },
    {
      ratio: 'embedded/system GDAL time: GeoPackage export',
      value: slower(wasmGpkg, strataGpkg),
      target: null,
    },
  ];
}

/**
 * Constant memory: a GeoPackage of about `mb` MB (polygons of 513 vertices, made in PostGIS and written by
 * ogr2ogr), ingested by Strata; its peak RSS, and ogr2ogr's, against those of the small files.
 */
export async function largeFile(ctx: BenchContext, mb: number): Promise<Result> {
  const path = join(ctx.out, `large-${mb}mb.gpkg`);
  // A 513-vertex polygon is about 8.3 KB of WKB.
  const count = Math.round((mb * 1024 * 1024) / 8300);
  if (!existsSync(path)) {
    process.stderr.write(
      `\nmaking a ${mb} MB GeoPackage (${count.toLocaleString('en')} polygons of 513 vertices)\n`,
    );
    await ctx.q(`DROP TABLE IF EXISTS bench.large`);
    await ctx.q(
      `CREATE TABLE bench.large AS SELECT g::int AS id, 'polygon ' || g AS name, (g % 1000) / 10.0 AS value,
         ST_Buffer(ST_SetSRID(ST_MakePoint(100000 + (g * 7919) % 550000, 10000 + (g * 104729) % 940000), 27700), 100, 128)::geometry(Polygon, 27700) AS geom
       FROM generate_series(1::bigint, ${count}) g`,
    );
    await ctx.sh('ogr2ogr', [
      '-f',
      'GPKG',
      `${path}.part`,
      ctx.pgConn,
      'bench.large',
      '-nln',
      'large',
      '-lco',
      'SPATIAL_INDEX=NO',
    ]);
    await ctx.sh('mv', [`${path}.part`, path]);
    await ctx.q(`DROP TABLE bench.large`);
  }
  await ctx.settle();
  const size = statSync(path).size;
  process.stderr.write(`\nconstant memory: ingest a ${(size / 1024 ** 3).toFixed(2)} GB GeoPackage\n`);
  const r = await ctx.worker(['ingest', 'gpkg', path, 'bench_large', '27700', 'Polygon']);
  const result = {
    name: `strata ingest ${(size / 1024 ** 3).toFixed(2)} GB GeoPackage`,
    rows: r.rows as number,
    seconds: ((r.archiveMs as number) + (r.loadMs as number)) / 1000,
    rssMb: r.rssMb as number,
    childRssMb: r.childRssMb as number,
  };
  ctx.record(result);
  await ctx.settle();
  return result;
}
