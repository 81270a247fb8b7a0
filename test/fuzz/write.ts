import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { convert, shapefileZip } from '../helpers/gdal.ts';
import { COLUMNS, type Geometry, type Position, type Table } from './table.ts';

/** The input formats Strata takes (runtime/catalog/schema.ts DATASET_FORMATS), each made as a user would. */
export const INPUT_FORMATS = [
  'csv',
  'geojson',
  'gpkg',
  'shapefile',
  'flatgeobuf',
  'kml',
  'geojsonseq',
] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** From the table's CRS (-a_srs would name the output's) to the only one the file can hold. */
const toWgs84 = (srs: string) => ['-s_srs', srs, '-t_srs', 'EPSG:4326'];

/** A double as text that reads back to the same double, -0 included (JSON.stringify and String drop its sign). */
export const exactNumber = (n: number) => (Object.is(n, -0) ? '-0' : String(n));

/**
 * The table as a GeoJSON FeatureCollection, written by hand so that bigints keep every digit (JSON.stringify
 * has no bigint) and -0 keeps its sign. In the table's CRS, with no `crs` member: `-a_srs` or the dataset's
 * `sourceSrid` says which it is.
 */
export function geojsonText(t: Table): string {
  const value = (v: unknown): string =>
    typeof v === 'number' ? (Object.is(v, -0) ? '-0.0' : JSON.stringify(v)) : JSON.stringify(v);
  const features = t.rows.map((r) => {
    const props = COLUMNS.map((c) => {
      const v = r[c.name];
      return `${JSON.stringify(c.name)}:${c.name === 'big' && v !== null ? v : value(v)}`;
    });
    return `{"type":"Feature","properties":{${props.join(',')}},"geometry":${JSON.stringify(r.geom)}}`;
  });
  return `{"type":"FeatureCollection","features":[\n${features.join(',\n')}\n]}\n`;
}

const wktPosition = (p: Position) => p.map(exactNumber).join(' ');
const wktList = (ps: Position[]) => `(${ps.map(wktPosition).join(', ')})`;

/** Geometry as WKT with every double written so it reads back exactly. */
export function wkt(g: Geometry, z: boolean): string {
  const tag = (name: string) => `${name.toUpperCase()}${z ? ' Z' : ''}`;
  const body = (g: Geometry): string => {
    switch (g.type) {
      case 'Point':
        return g.coordinates.length === 0 ? 'EMPTY' : `(${wktPosition(g.coordinates)})`;
      case 'LineString':
      case 'MultiPoint':
        return g.coordinates.length === 0 ? 'EMPTY' : wktList(g.coordinates);
      case 'Polygon':
      case 'MultiLineString':
        return g.coordinates.length === 0 ? 'EMPTY' : `(${g.coordinates.map(wktList).join(', ')})`;
      case 'MultiPolygon':
        return g.coordinates.length === 0
          ? 'EMPTY'
          : `(${g.coordinates.map((p) => `(${p.map(wktList).join(', ')})`).join(', ')})`;
      case 'GeometryCollection':
        return g.geometries.length === 0 ? 'EMPTY' : `(${g.geometries.map((x) => wkt(x, z)).join(', ')})`;
    }
  };
  return `${tag(g.type)} ${body(g)}`;
}

/**
 * The table as CSV with a WKT column, as PostgreSQL's COPY reads it: a bare empty field is null, `""` is
 * the empty string, and any field holding a quote, comma or line end is quoted.
 */
export function csvText(t: Table): string {
  const cell = (v: unknown): string => {
    if (v === null) return '';
    const s = typeof v === 'number' ? exactNumber(v) : String(v);
    return s === '' || /[",\r\n]/.test(s) || s.trim() !== s ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const header = [...COLUMNS.map((c) => c.name), 'wkt'].join(',');
  const lines = t.rows.map((r) =>
    [...COLUMNS.map((c) => cell(r[c.name])), cell(r.geom === null ? null : wkt(r.geom, t.z))].join(','),
  );
  return `${header}\n${lines.join('\n')}\n`;
}

/** The file of a table in an input format, in `dir`: CSV and GeoJSON by hand, the rest by ogr2ogr from the GeoJSON. */
export async function inputFile(dir: string, t: Table, format: InputFormat): Promise<string> {
  const geojson = join(dir, 'table.geojson');
  await writeFile(geojson, geojsonText(t));
  const srs = `EPSG:${t.srid}`;
  switch (format) {
    case 'csv': {
      const path = join(dir, 'table.csv');
      await writeFile(path, csvText(t));
      return path;
    }
    case 'geojson':
      return geojson;
    case 'gpkg':
      return convert(geojson, join(dir, 'table.gpkg'), 'GPKG', { srs, layer: 'fuzz' });
    case 'flatgeobuf':
      return convert(geojson, join(dir, 'table.fgb'), 'FlatGeobuf', { srs, layer: 'fuzz' });
    // KML and GeoJSON sequences hold EPSG:4326 only. Asked to, ogr2ogr transforms the geometries itself;
    // left to the writers, GDAL 3.6 merges a collection's members as it cuts them at the antimeridian, and a
    // point lying on a line or polygon of the same collection is lost (seed 1).
    case 'kml':
      return convert(geojson, join(dir, 'table.kml'), 'KML', { layer: 'fuzz', extra: toWgs84(srs) });
    case 'geojsonseq':
      return convert(geojson, join(dir, 'table.geojsonl'), 'GeoJSONSeq', { extra: toWgs84(srs) });
    case 'shapefile': {
      const path = join(dir, 'table.zip');
      // UTF-8 in a .cpg: GDAL's default (ISO-8859-1) cannot hold most of what the text generator makes.
      await writeFile(path, await shapefileZip(geojson, { srs, name: 'fuzz', encoding: 'UTF-8' }));
      return path;
    }
  }
}

/** The dataset declaration for a table in a format: every column, the geometry in the table's own CRS. */
export function datasetDoc(t: Table, format: InputFormat): Record<string, unknown> {
  const dimensions = t.z ? 3 : 2;
  // Kept in the table's CRS, so what comes out can be compared with what went in without a transformation.
  const common = { type: t.type, dimensions, targetSrid: t.srid, required: false };
  if (format === 'csv')
    return {
      format,
      columns: [...COLUMNS, { name: 'wkt', type: 'text' }],
      geometry: { kind: 'wkt', column: 'wkt', sourceSrid: t.srid, ...common },
    };
  // KML and GeoJSON sequences are in EPSG:4326 whatever the table's CRS was: the file says so.
  const sourceSrid = format === 'kml' || format === 'geojsonseq' ? undefined : t.srid;
  return {
    format,
    columns: COLUMNS,
    geometry: { kind: 'geojson', ...(sourceSrid !== undefined ? { sourceSrid } : {}), ...common },
  };
}
