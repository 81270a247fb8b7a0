import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import type { Database } from '../../runtime/ports/database.ts';
import { ident, qualified } from '../../runtime/util/sql.ts';
import { gdal } from '../helpers/gdal.ts';
import { GEOMETRY_TYPES, type Geometry, isEmptyGeometry, type Position } from './table.ts';

/** A row as read back from anywhere, before the per-format rules make it comparable. */
export type RawRow = Record<string, unknown> & { geom: Geometry | null };

/** WKB's type codes 1–7, in the catalog's order of geometry types. */
const WKB_TYPES = ['', ...GEOMETRY_TYPES] as const;

/** WKB (ISO or EWKB, either byte order) as GeoJSON-shaped geometry; an empty point (NaN, NaN) has no coordinates. */
export function parseWkb(buf: Uint8Array): Geometry {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  const read = (): Geometry => {
    const le = view.getUint8(at) === 1;
    at += 1;
    let code = view.getUint32(at, le);
    at += 4;
    let z = (code & 0x80000000) !== 0;
    if (code & 0x20000000) at += 4; // an EWKB SRID: the CRS is known from elsewhere
    code &= 0x0fffffff;
    if (code >= 1000 && code < 2000) {
      z = true;
      code -= 1000;
    }
    const dims = z ? 3 : 2;
    const pos = (): Position => {
      const p: number[] = [];
      for (let i = 0; i < dims; i++, at += 8) p.push(view.getFloat64(at, le));
      return p;
    };
    const count = () => {
      const n = view.getUint32(at, le);
      at += 4;
      return n;
    };
    const times = <T>(f: () => T): T[] => Array.from({ length: count() }, f);
    const ring = () => times(pos);
    const type = WKB_TYPES[code];
    switch (type) {
      case 'Point': {
        const p = pos();
        return { type, coordinates: p.every(Number.isNaN) ? [] : p };
      }
      case 'LineString':
        return { type, coordinates: ring() };
      case 'Polygon':
        return { type, coordinates: times(ring) };
      case 'MultiPoint':
        return { type, coordinates: times(() => (read() as { coordinates: Position }).coordinates) };
      case 'MultiLineString':
        return { type, coordinates: times(() => (read() as { coordinates: Position[] }).coordinates) };
      case 'MultiPolygon':
        return { type, coordinates: times(() => (read() as { coordinates: Position[][] }).coordinates) };
      case 'GeometryCollection':
        return { type, geometries: times(read) };
      default:
        throw new Error(`WKB geometry type ${code} is not one the fuzzer makes`);
    }
  };
  return read();
}

/**
 * The rows of a table in the database, by rid: every value as its exact text, geometry from WKB, in `srid`
 * when given (transformed by PostGIS, as an export to EPSG:4326 does).
 */
export async function readTable(
  db: Database,
  schema: string,
  table: string,
  srid?: number,
): Promise<RawRow[]> {
  const geom = srid === undefined ? 'geom' : `ST_Transform(geom, ${Number(srid)})`;
  const rows = await db.query<Record<string, string | null>>(
    `SELECT rid::text, txt, num::text, big::text, dbl::text, day::text, flag::text,
            encode(ST_AsBinary(${geom}), 'hex') AS ${ident('wkb')}
     FROM ${qualified(schema, table)} ORDER BY rid`,
  );
  return rows.map(({ wkb, ...r }) => ({ ...r, geom: wkb ? parseWkb(Buffer.from(wkb, 'hex')) : null }));
}

/**
 * GeoJSON as GDAL writes it, read with integers past 2^53 kept as their digits (JSON.parse would round
 * them): a number of 16 or more digits with no fraction or exponent becomes a string first.
 */
function parseJsonKeepingBigints(text: string): unknown {
  return JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"'));
}

/**
 * A collection read through GDAL's SQLite dialect in the file's order of members. SpatiaLite keeps a
 * collection as three lists (points, lines, polygons), so its WKB has the members grouped by type, whatever
 * order the file holds them in; GDAL's GeoJSON of the same file has that order but rounded coordinates. The
 * WKB's members are put in the GeoJSON's order, type by type. Where the two do not pair off member for member,
 * the WKB is left as it is, and the comparison says what differs.
 */
function inFileOrder(fromWkb: Geometry, fromJson: Geometry | null): Geometry {
  if (fromWkb.type !== 'GeometryCollection' || fromJson?.type !== 'GeometryCollection') return fromWkb;
  const byType = new Map<string, Geometry[]>();
  for (const m of fromWkb.geometries) byType.set(m.type, [...(byType.get(m.type) ?? []), m]);
  const ordered = fromJson.geometries.map((m) => byType.get(m.type)?.shift());
  const paired = ordered.every((m) => m !== undefined) && [...byType.values()].every((ms) => ms.length === 0);
  return paired ? { type: 'GeometryCollection', geometries: ordered as Geometry[] } : fromWkb;
}

/**
 * Reads a published file with GDAL, as a partner would. Attributes come from GDAL's GeoJSON, but for a
 * numeric `dbl`, read from its bytes through GDAL's SQLite dialect; geometry from WKB through GDAL's SQLite dialect, since
 * GDAL's text writers round coordinates that look like 0.xxx99999 ("smart rounding"), which would blame
 * the file for the reader's formatting. An empty geometry is taken from the GeoJSON (SpatiaLite's WKB
 * has no empty point).
 */
export async function readWithGdal(path: string, openOptions: string[] = []): Promise<RawRow[]> {
  const oo = openOptions.flatMap((o) => ['-oo', o]);
  const info = await gdal('ogrinfo', ['-ro', '-so', '-al', ...oo, path]);
  const layer = /^Layer name: (.*)$/m.exec(info)?.[1];
  if (!layer) throw new Error(`ogrinfo found no layer in ${path}`);
  const column = /^Geometry Column = (.*)$/m.exec(info)?.[1] ?? 'GEOMETRY';
  const out = await gdal('ogr2ogr', [
    '-f',
    'GeoJSON',
    '/vsistdout/',
    path,
    ...oo,
    '-lco',
    'RFC7946=NO',
    '-lco',
    'SIGNIFICANT_FIGURES=17',
  ]);
  const doc = parseJsonKeepingBigints(out) as {
    features: { properties: Record<string, unknown>; geometry: Geometry | null }[];
  };
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const wkbCsv = await gdal('ogr2ogr', [
    '-f',
    'CSV',
    '/vsistdout/',
    path,
    ...oo,
    '-dialect',
    'SQLite',
    '-sql',
    `SELECT rid, hex(ST_AsBinary(${quote(column)})) AS wkb, hex(ST_AsBinary(MakePoint(dbl, 0))) AS dbl FROM ${quote(layer)}`,
  ]);
  const wkb = new Map(
    wkbCsv
      .trim()
      .split(/\r?\n/)
      .slice(1)
      .map((line) => {
        const [rid, geom, dbl] = line.replace(/"/g, '').split(',') as [string, string, string];
        return [rid, { geom, dbl }] as const;
      }),
  );
  return doc.features.map((f) => {
    const hex = wkb.get(String(f.properties.rid));
    const geom =
      f.geometry === null || isEmptyGeometry(f.geometry) || !hex?.geom
        ? f.geometry
        : inFileOrder(parseWkb(Buffer.from(hex.geom, 'hex')), f.geometry);
    // GDAL's GeoJSON writer drops the last digits of a double whose 17 show a run of zeros or nines
    // (0.30000000000000004 as 0.3): a numeric field is taken from its bytes, as the X of a point.
    const dbl =
      typeof f.properties.dbl === 'number' && hex?.dbl
        ? Buffer.from(hex.dbl, 'hex').readDoubleLE(5)
        : f.properties.dbl;
    return { ...f.properties, dbl, geom };
  });
}

/** Reads GeoParquet with hyparquet, which decodes the WKB column by the file's geo metadata. */
export async function readGeoParquet(path: string): Promise<RawRow[]> {
  const file = await asyncBufferFromFile(path);
  const rows = await parquetReadObjects({ file, utf8: true });
  return rows.map((r) => ({ ...r, geom: (r.geom ?? null) as Geometry | null }));
}
