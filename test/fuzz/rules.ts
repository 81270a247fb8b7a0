import type { OutputFormat } from '../../runtime/catalog/schema.ts';
import { DBF_NUMBER_LIMIT } from '../../runtime/publish/export-gdal.ts';
import type { Allowances } from './equivalence.ts';
import type { GeometryType, Table } from './table.ts';
import type { InputFormat } from './write.ts';

/**
 * Per-format equivalence: what each format is documented not to keep, and so what the comparison forgives.
 * An allowance names a property of the format (its specification, or the GDAL driver's documented
 * behaviour), never a shortcoming of Strata's reading or writing of it.
 */

/**
 * A round trip through EPSG:4326 and back (ogr2ogr writes it with 15 significant digits, PROJ transforms
 * each way): at most a few micrometres in projected metres, ~1e-9 of a degree.
 */
const THROUGH_WGS84 = { 4326: 1e-9, 27700: 1e-3, 3857: 1e-3 } as const;

/** Doubles from this magnitude do not fit a .dbf numeric field: Strata refuses to export them (DBF_NUMBER_LIMIT). */
export const DBF_DOUBLE_LIMIT = DBF_NUMBER_LIMIT;

/** The ESRI Shapefile specification (1998) and GDAL's shapefile driver. */
const SHAPEFILE: Allowances = {
  // A .dbf field is text padded with spaces; GDAL writes a null text field as blanks and reads it as "".
  nullTextIsEmpty: 'a .dbf has no null for character fields',
  // A .dbf character field is padded with spaces to its width, and GDAL (shapelib) strips spaces from both
  // ends when reading: "  a  " and " " come back as "a" and "" (seed 20261207). Tabs and line ends are kept.
  trimsText: {
    what: 'spaces',
    why: 'a .dbf character field is space-padded; GDAL strips spaces at both ends',
  },
  // Shape types have no empty form but the null shape (type 0).
  emptyGeometryIsNull: 'a shapefile has no empty geometry, only the null shape',
  // PolyLine and Polygon shapes hold any number of parts; GDAL reads one part as a single geometry.
  singleIsMulti: 'a PolyLine or Polygon shape with one part is read as LineString or Polygon',
  // The specification orders vertices clockwise in outer rings, counter-clockwise in holes.
  ringOrder: 'shapefile rings are clockwise outside, counter-clockwise inside',
  // A .dbf numeric field is decimal text: GDAL's default for doubles keeps 15 decimals, and reading the
  // text back gives the double nearest to it.
  doubles: { absolute: 5e-16, relative: 2.3e-16, why: 'a .dbf numeric field keeps 15 decimals (N 24.15)' },
  // GDAL reads a .dbf numeric field wider than 18 digits as a double (its driver's documented mapping).
  bigintsAsDoubles: 'GDAL reads .dbf numbers of 19 digits and more as Real',
};

/** How the file of each input format keeps what the generated table held. */
export const INPUT_RULES: Record<InputFormat, Allowances> = {
  csv: {},
  geojson: {},
  gpkg: {},
  flatgeobuf: {
    dropsRowsWithoutGeometry: "GDAL's FlatGeobuf writer skips features without a geometry",
  },
  shapefile: SHAPEFILE,
  kml: {
    coordinates: { absolute: THROUGH_WGS84, why: 'KML coordinates are EPSG:4326 only (OGC 07-147r2 §6.2)' },
    // KML's ExtendedData values are text; GDAL's KML writer formats doubles (and Integer64) with 15
    // significant digits, and declares 64-bit integers as floats.
    doubles: { absolute: 0, relative: 5e-15, why: "GDAL's KML writer keeps 15 significant digits" },
    bigintsAsDoubles: "GDAL's KML writer writes 64-bit integers as floats",
    // GDAL's KML driver drops spaces before a value when writing and white space around it when reading
    // (its XML reader takes the indentation of a <SimpleData> as layout): " " came back as "" (seed
    // 20261207).
    trimsText: { what: 'whitespace', why: "GDAL's KML driver does not keep white space around a value" },
    // XML 1.0 has no place for C0 controls but tab and line ends, not even as &#2;: GDAL's KML writer drops
    // them ("a\u0002b" is written "ab"; seed 1).
    dropsXmlForbidden: 'KML is XML 1.0, which cannot hold C0 control characters',
  },
  geojsonseq: {
    // GDAL's GeoJSONSeq writer reprojects to EPSG:4326 and keeps 7 decimals (its RFC 7946 default): about
    // a centimetre, more in Web Mercator metres far from the equator.
    coordinates: {
      absolute: { 4326: 5.1e-8, 27700: 0.02, 3857: 0.1 },
      why: 'GDAL writes GeoJSON sequences in EPSG:4326 with 7 decimals (RFC 8142 over RFC 7946)',
    },
  },
};

/**
 * How each published format, read back by GDAL or a Parquet reader, keeps what the product table held
 * (compared in EPSG:4326, transformed by PostGIS, for the formats published in it).
 */
export const OUTPUT_RULES: Record<OutputFormat, Allowances> = {
  csv: {
    // COPY writes null as a bare empty field and "" quoted; GDAL's CSV reader reads both as "".
    nullTextIsEmpty: "GDAL's CSV reader does not tell a bare empty field from a quoted one",
    // ST_AsText writes at most 15 decimals and about 15 significant digits by default: under a nanometre
    // at these CRSs' coordinates.
    coordinates: {
      absolute: { 4326: 5e-16, 27700: 5e-16, 3857: 5e-16 },
      relative: 1e-14,
      why: 'WKT from ST_AsText carries 15 decimals, 15 significant digits',
    },
  },
  geojson: {
    // ST_AsGeoJSON rounds to 9 decimals by default (RFC 7946 §11.2 leaves precision to the writer).
    coordinates: {
      absolute: { 4326: 5.1e-10, 27700: 5.1e-10, 3857: 5.1e-10 },
      why: 'GeoJSON has 9 decimals',
    },
  },
  gpkg: {},
  flatgeobuf: {
    // Every feature of an indexed FlatGeobuf has a box; Strata's writer leaves rows without one out, as GDAL's does.
    dropsRowsWithoutGeometry: 'a FlatGeobuf with a spatial index holds no feature without a geometry',
  },
  shapefile: SHAPEFILE,
  geoparquet: {},
};

/** Input formats that cannot hold a geometry type at all (and so are not asked to). */
export function inputHolds(format: InputFormat, type: GeometryType): boolean {
  // Shapefile shape types are points, multipoints, polylines and polygons: no collection of mixed parts.
  return !(format === 'shapefile' && type === 'GeometryCollection');
}

/** Output formats a table can be published in. */
export function outputsFor(t: Table): OutputFormat[] {
  const all: OutputFormat[] = ['csv', 'geojson', 'gpkg', 'flatgeobuf', 'shapefile', 'geoparquet'];
  // Shapefiles hold no geometry collection, and no double past DBF_DOUBLE_LIMIT (its export refuses them).
  const shapefile =
    t.type !== 'GeometryCollection' &&
    t.rows.every((r) => r.dbl === null || Math.abs(r.dbl) < DBF_DOUBLE_LIMIT);
  return all.filter((f) => f !== 'shapefile' || shapefile);
}
