/** What every exporter shares: how bytes get to the bucket, and what an exporter is told of its table. */
import type { Output, OutputFormat } from '../catalog/schema.ts';
import type { Body, ObjectStore } from '../ports/object-store.ts';
import { measured, newMeasure } from '../util/hash.ts';

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
