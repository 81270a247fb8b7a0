/** What every exporter shares: the manifest's record of a published file, and how bytes get to the bucket. */
import type { Output, OutputFormat } from '../catalog/schema.ts';
import type { Body, ObjectStore } from '../ports/object-store.ts';
import { measured, newMeasure } from '../util/hash.ts';

export interface PublishedFile {
  readonly name: string;
  readonly table: string;
  readonly format: OutputFormat;
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
  readonly rows: number;
  /**
   * SRID of the geometry in this file: the table's for CSV, GeoPackage and Shapefile; 4326 for GeoJSON
   * (RFC 7946), FlatGeobuf and GeoParquet (OGC:CRS84).
   */
  readonly srid: number | null;
  /** Shapefile only: each column's field name in the .dbf (at most 10 characters), also in the zip's fields.csv. */
  readonly fields?: readonly { readonly column: string; readonly field: string }[];
}

export interface ColumnInfo {
  readonly name: string;
  /** As `format_type` writes it: `integer`, `timestamp with time zone`, `geometry(Point,4326)`. */
  readonly type: string;
}

/** What an exporter needs to know of an output table. */
export interface TableShape {
  readonly attrs: readonly ColumnInfo[];
  readonly geom?: ColumnInfo;
  /** `"schema"."table"`, to select from as `t`. */
  readonly source: string;
  /** ` ORDER BY t."a", ...` or empty. */
  readonly orderBy: string;
  /** The geometry's SRID (its column's, or its first value's when the column does not say); null if none. */
  readonly srid: number | null;
  /** The geometry column's type (`POINT`, `MULTIPOLYGON`) and dimensions; GEOMETRY when it does not say. */
  readonly geometryType: string;
  readonly hasZ: boolean;
}

/** File name extension and media type per format. */
export const FORMAT_FILES: Record<OutputFormat, { ext: string; contentType: string }> = {
  csv: { ext: 'csv', contentType: 'text/csv' },
  geojson: { ext: 'geojson', contentType: 'application/geo+json' },
  gpkg: { ext: 'gpkg', contentType: 'application/geopackage+sqlite3' },
  flatgeobuf: { ext: 'fgb', contentType: 'application/vnd.flatgeobuf' },
  shapefile: { ext: 'shp.zip', contentType: 'application/zip' },
  geoparquet: { ext: 'parquet', contentType: 'application/vnd.apache.parquet' },
};

/** Streams a file's bytes into the egress bucket, hashed and measured on the way: nothing is read twice. */
export async function publishBytes(
  store: ObjectStore,
  key: string,
  body: AsyncIterable<Uint8Array>,
  contentType: string,
): Promise<{ size: number; sha256: string }> {
  const stats = newMeasure();
  await store.put('egress', key, measured(body, stats) as Body, { contentType });
  return { size: stats.size, sha256: stats.hash.digest('hex') };
}

export interface ExportInput {
  readonly schema: string;
  readonly output: Output;
  readonly format: OutputFormat;
  readonly prefix: string;
  /** Where GDAL and GeoParquet exports write their file before it is published; removed afterwards. */
  readonly tmpDir?: string;
}
