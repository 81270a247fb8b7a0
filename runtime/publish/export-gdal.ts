import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { runGdal } from '../adapters/gdal/facade.ts';
import { BuildError } from '../errors.ts';
import { outputKey } from '../layout/buckets.ts';
import type { Database, RowCount } from '../ports/database.ts';
import { GdalFailedError } from '../ports/gdal.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { writeBody } from '../util/files.ts';
import { ident, literal } from '../util/sql.ts';
import type { PublishedFile } from './manifest.ts';
import {
  type ColumnInfo,
  type ExportInput,
  FORMAT_FILES,
  publishBytes,
  type TableShape,
} from './output-file.ts';

type GdalOutput = 'gpkg' | 'shapefile';

/** How a column travels: a text expression in the CSV ogr2ogr reads, and the OGR field type it becomes. */
interface FieldPlan {
  readonly name: string;
  readonly select: string;
  readonly type: 'Integer' | 'Integer64' | 'Real' | 'String' | 'Date' | 'DateTime';
  readonly subtype?: 'Boolean';
}

function fieldPlan(c: ColumnInfo, format: GdalOutput): FieldPlan {
  const col = `t.${ident(c.name)}`;
  const t = c.type;
  if (t === 'smallint' || t === 'integer') return { name: c.name, select: `${col}::text`, type: 'Integer' };
  if (t === 'bigint') return { name: c.name, select: `${col}::text`, type: 'Integer64' };
  if (t === 'real' || t === 'double precision' || t.startsWith('numeric'))
    return { name: c.name, select: `${col}::text`, type: 'Real' };
  if (t === 'boolean')
    return { name: c.name, select: `(${col})::int::text`, type: 'Integer', subtype: 'Boolean' };
  if (t === 'date') return { name: c.name, select: `to_char(${col}, 'YYYY-MM-DD')`, type: 'Date' };
  if (t.startsWith('timestamp')) {
    // A .dbf keeps dates only: a timestamp goes into a shapefile as ISO 8601 text rather than losing its time.
    const utc = t.includes('with time zone');
    const select = utc
      ? `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
      : `to_char(${col}, 'YYYY-MM-DD"T"HH24:MI:SS.MS')`;
    return { name: c.name, select, type: format === 'shapefile' ? 'String' : 'DateTime' };
  }
  return { name: c.name, select: `${col}::text`, type: 'String' };
}

/**
 * Field names a .dbf can hold: at most 10 characters of A-Z, a-z, 0-9 and _, unique ignoring case; a name
 * cut short that meets another gets a number (`populati_1`). Deterministic, so the mapping is known and
 * published beside the file rather than left to GDAL's warnings.
 */
export function shapefileFieldNames(names: readonly string[]): string[] {
  const taken = new Set<string>();
  return names.map((name) => {
    const base = name.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 10) || 'field';
    let candidate = base;
    for (let n = 1; taken.has(candidate.toLowerCase()); n++) {
      const suffix = `_${n}`;
      candidate = `${base.slice(0, 10 - suffix.length)}${suffix}`;
    }
    taken.add(candidate.toLowerCase());
    return candidate;
  });
}

/**
 * The magnitude from which a number no longer fits a .dbf numeric field as GDAL writes doubles (24
 * characters, 15 of them decimals): GDAL drops decimals to fit, but cuts an integer part of more than 23
 * digits and a sign short, with a warning only (1.2e251 would be published as 1.2e22).
 */
export const DBF_NUMBER_LIMIT = 1e23;

/** Refuses a shapefile export of a number its .dbf would corrupt, naming the column and the value. */
async function checkDbfNumbers(db: Database, shape: TableShape, plans: readonly FieldPlan[], name: string) {
  for (const p of plans) {
    if (p.type !== 'Real') continue;
    const [row] = await db.query<{ v: string }>(
      `SELECT t.${ident(p.name)}::text AS v FROM ${shape.source} t WHERE abs(t.${ident(p.name)}) >= ${DBF_NUMBER_LIMIT} LIMIT 1`,
    );
    if (row)
      throw new BuildError(
        `output "${name}" cannot be written as shapefile: column "${p.name}" holds ${row.v}, and a .dbf number holds at most 23 digits before the point (cast it to text in the product's SQL, or leave shapefile out of the output's formats)`,
        { step: 'export' },
      );
  }
}

const xml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const OGR_GEOMETRY: Record<string, string> = {
  POINT: 'wkbPoint',
  LINESTRING: 'wkbLineString',
  POLYGON: 'wkbPolygon',
  MULTIPOINT: 'wkbMultiPoint',
  MULTILINESTRING: 'wkbMultiLineString',
  MULTIPOLYGON: 'wkbMultiPolygon',
  GEOMETRYCOLLECTION: 'wkbGeometryCollection',
};

/**
 * Text travels behind one letter: GDAL's CSV reader takes a bare empty field and a quoted `""` alike, so
 * without it an empty text would be published as null (or every null as empty). `'s' || null` stays null,
 * and the VRT's SQL takes the letter off again (`SUBSTR(c, 2)`), so `''` arrives as `''`.
 */
const TEXT_MARK = 's';

/**
 * An OGR VRT over the rows' CSV: it gives each column its type (the CSV itself has none) and reads the
 * geometry from hex WKB, lossless and quicker to parse than WKT.
 */
function vrtDocument(
  csv: string,
  layer: string,
  fields: readonly (FieldPlan & { field: string; src: string })[],
  geometry: { type: string; srid: number | null } | undefined,
): string {
  const lines = [
    '<OGRVRTDataSource>',
    `  <OGRVRTLayer name="${xml(layer)}">`,
    `    <SrcDataSource>${xml(csv)}</SrcDataSource>`,
    '    <OpenOptions><OOI key="EMPTY_STRING_AS_NULL">YES</OOI></OpenOptions>',
  ];
  if (fields.some((f) => f.type === 'String')) {
    const columns = fields.map((f) => (f.type === 'String' ? `SUBSTR(${f.src}, 2) AS ${f.src}` : f.src));
    if (geometry) columns.push('wkb');
    lines.push(`    <SrcSQL dialect="OGRSQL">SELECT ${columns.join(', ')} FROM rows</SrcSQL>`);
  } else lines.push('    <SrcLayer>rows</SrcLayer>');
  if (geometry) {
    lines.push(`    <GeometryType>${geometry.type}</GeometryType>`);
    if (geometry.srid) lines.push(`    <LayerSRS>EPSG:${geometry.srid}</LayerSRS>`);
    lines.push('    <GeometryField encoding="WKB" field="wkb"/>');
  } else lines.push('    <GeometryType>wkbNone</GeometryType>');
  for (const f of fields)
    lines.push(
      `    <Field name="${xml(f.field)}" src="${f.src}" type="${f.type}"${f.subtype ? ` subtype="${f.subtype}"` : ''}/>`,
    );
  lines.push('  </OGRVRTLayer>', '</OGRVRTDataSource>', '');
  return lines.join('\n');
}

const DRIVERS: Record<GdalOutput, string> = {
  gpkg: 'GPKG',
  shapefile: 'ESRI Shapefile',
};

/** Zips a shapefile's parts and its field-name mapping, as a stream. */
async function zipShapefile(dir: string, files: readonly string[], fieldsCsv: string): Promise<Readable> {
  const { default: yazl } = await import('yazl');
  const zip = new yazl.ZipFile();
  for (const f of files) zip.addFile(join(dir, f), f);
  zip.addBuffer(Buffer.from(fieldsCsv), 'fields.csv');
  zip.end();
  return zip.outputStream as Readable;
}

const csvCell = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/**
 * GeoPackage (in the table's CRS, with its R-tree index) and zipped Shapefile (in the table's CRS, with a fields.csv
 * mapping columns to the 10-character names a .dbf holds): rows are streamed out of the database as CSV
 * with hex WKB into a work file, which ogr2ogr converts in the same work folder; the result is streamed to
 * the bucket, hashed on the way. Memory stays bounded on every side whatever the table's size (disk holds
 * the rows once more while the export runs).
 */
export async function exportWithGdal(
  db: Database,
  store: ObjectStore,
  shape: TableShape,
  input: ExportInput & { format: GdalOutput },
): Promise<PublishedFile> {
  const { output, format, prefix } = input;
  const name = output.name ?? output.table;
  const layout = gdalLayout(shape, format);
  if (format === 'shapefile') await checkDbfNumbers(db, shape, layout.plans, name);
  const work = await mkdtemp(join(input.tmpDir ?? tmpdir(), 'strata-export-'));
  try {
    const csv = join(work, 'rows.csv');
    const vrt = join(work, 'rows.vrt');
    await writeFile(vrt, vrtDocument(csv, name, layout.fields, layout.geometry));
    const outDir = join(work, 'out');
    await mkdir(outDir);
    const file = join(outDir, format === 'shapefile' ? `${name}.shp` : `${name}.${FORMAT_FILES[format].ext}`);
    const count = await writeRows(db, shape, layout.selects, csv);
    await convert(name, format, ogrArguments(format, { file, vrt, name }));
    await rm(csv);
    const key = outputKey(prefix, name, FORMAT_FILES[format].ext);
    let body: AsyncIterable<Uint8Array>;
    let mapping: PublishedFile['fields'];
    if (format === 'shapefile') {
      mapping = layout.fields.map((f) => ({ column: f.name, field: f.field }));
      const fieldsCsv = `column,field\n${mapping.map((m) => `${csvCell(m.column)},${csvCell(m.field)}\n`).join('')}`;
      body = await zipShapefile(outDir, (await readdir(outDir)).sort(), fieldsCsv);
    } else body = createReadStream(file, { highWaterMark: 1 << 20 });
    const { size, sha256 } = await publishBytes(store, key, body, FORMAT_FILES[format].contentType);
    return {
      name,
      table: output.table,
      format,
      key,
      size,
      sha256,
      rows: count.rows,
      srid: shape.geom ? layout.srid : null,
      ...(mapping ? { fields: mapping } : {}),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** What the work file holds and how GDAL reads it: each column's field, the select, the geometry's type and CRS. */
function gdalLayout(shape: TableShape, format: GdalOutput) {
  const srid = shape.srid;
  const plans = shape.attrs.map((c) => fieldPlan(c, format));
  const fieldNames =
    format === 'shapefile' ? shapefileFieldNames(plans.map((p) => p.name)) : plans.map((p) => p.name);
  const fields = plans.map((p, i) => ({ ...p, field: fieldNames[i]!, src: `c${i}` }));
  const selects = fields.map((f) =>
    f.type === 'String' ? `${literal(TEXT_MARK)} || (${f.select}) AS ${f.src}` : `${f.select} AS ${f.src}`,
  );
  if (shape.geom) {
    const g = `t.${ident(shape.geom.name)}`;
    selects.push(`encode(ST_AsBinary(${g}), 'hex') AS wkb`);
  }
  const geometry = shape.geom
    ? {
        type: `${OGR_GEOMETRY[shape.geometryType] ?? 'wkbUnknown'}${shape.hasZ && OGR_GEOMETRY[shape.geometryType] ? '25D' : ''}`,
        srid,
      }
    : undefined;
  return { srid, plans, fields, selects, geometry };
}

/**
 * Streams the rows out of the database as CSV with hex WKB into the work file. The rows go to a file and
 * ogr2ogr reads the file: measured on a busy two-core machine, a pipe into its stdin took 1.7 times as long
 * (every 64 KiB waits for the other process to be scheduled).
 */
async function writeRows(
  db: Database,
  shape: TableShape,
  selects: readonly string[],
  csv: string,
): Promise<RowCount> {
  const count: RowCount = { rows: 0 };
  const fh = await open(csv, 'wx');
  try {
    await writeBody(
      fh,
      db.copyToCsv(`SELECT ${selects.join(', ') || 'NULL'} FROM ${shape.source} t${shape.orderBy}`, count),
    );
  } finally {
    await fh.close();
  }
  return count;
}

function ogrArguments(format: GdalOutput, at: { file: string; vrt: string; name: string }): string[] {
  const args = ['-f', DRIVERS[format], at.file, at.vrt, '-nln', at.name];
  // The file is written in a work folder and only published whole: its journal buys nothing.
  if (format === 'gpkg') args.push('--config', 'OGR_SQLITE_SYNCHRONOUS', 'OFF');
  // The R-tree is most of a GeoPackage's time (15 of 17.8 s for a million points with GDAL 3.6, 2.8 s
  // without it): SQLite inserts its entries one at a time, and its default 2 MB page cache keeps rereading
  // the tree. 64 MB took the same export to 13.2 s (ogr2ogr at 133 MB RSS; more cache bought nothing).
  if (format === 'gpkg') args.push('--config', 'OGR_SQLITE_CACHE', '64');
  if (format === 'shapefile') args.push('-lco', 'ENCODING=UTF-8');
  return args;
}

/** Runs ogr2ogr; what GDAL said is the build's error. */
async function convert(name: string, format: GdalOutput, args: readonly string[]): Promise<void> {
  try {
    await runGdal('ogr2ogr', args);
  } catch (e) {
    if (e instanceof GdalFailedError)
      throw new BuildError(`export of "${name}" as ${format} failed: ${e.errors.join('; ') || e.message}`, {
        step: 'export',
      });
    throw e;
  }
}
