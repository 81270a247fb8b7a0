import type { Output, OutputFormat } from '../catalog/schema.ts';
import { BuildError } from '../errors.ts';
import { outputKey } from '../layout/buckets.ts';
import type { Database, RowCount } from '../ports/database.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { ident, literal, qualified } from '../util/sql.ts';
import { exportFlatGeobuf } from './export-flatgeobuf.ts';
import { exportWithGdal } from './export-gdal.ts';
import { exportGeoParquet } from './export-geoparquet.ts';
import type { PublishedFile } from './manifest.ts';
import {
  type ColumnInfo,
  type ExportInput,
  FORMAT_FILES,
  publishBytes,
  type TableShape,
} from './output-file.ts';

export type { ExportInput, TableShape } from './output-file.ts';

async function describe(db: Database, schema: string, table: string): Promise<ColumnInfo[]> {
  const cols = await db.query<ColumnInfo>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [schema, table],
  );
  if (cols.length === 0)
    throw new BuildError(`output table "${table}" was not created by any step`, { step: 'export' });
  return cols;
}

/**
 * Wraps feature lines into a FeatureCollection, streaming. The database ends every feature with `,`; only
 * the last one's comma is dropped, so the bytes pass through untouched but for the final chunk.
 */
async function* featureCollection(lines: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield Buffer.from('{"type":"FeatureCollection","features":[\n');
  let held: Buffer | undefined;
  for await (const chunk of lines) {
    if (chunk.length === 0) continue;
    // The last ",\n" may straddle chunks: a chunk too short to hold both joins the one before.
    if (held && chunk.length < 2) {
      held = Buffer.concat([held, chunk]);
      continue;
    }
    if (held) yield held;
    held = chunk;
  }
  if (held) {
    if (held.length < 2 || held[held.length - 2] !== 0x2c || held[held.length - 1] !== 10)
      throw new Error('feature lines must end with ",\\n"');
    yield held.subarray(0, held.length - 2);
    yield Buffer.from('\n');
  }
  yield Buffer.from(']}\n');
}

/** An output table's columns, geometry, order and SRID. */
export async function tableShape(db: Database, schema: string, output: Output): Promise<TableShape> {
  const columns = await describe(db, schema, output.table);
  const geom = columns.find((c) => c.name === output.geometry && c.type.startsWith('geometry'));
  const attrs = columns.filter((c) => c !== geom && !c.type.startsWith('geometry'));
  const source = qualified(schema, output.table);
  const order = output.orderBy ?? (attrs[0] ? [attrs[0].name] : []);
  // On the table's columns (`t.`), not the text the CSV select makes of them: ids sort as numbers.
  const orderBy = order.length > 0 ? ` ORDER BY ${order.map((c) => `t.${ident(c)}`).join(', ')}` : '';
  if (!geom) return { attrs, source, orderBy, srid: null, geometryType: 'GEOMETRY', hasZ: false };
  const [col] = await db.query<{ srid: number | null; type: string | null; dims: number | null }>(
    `SELECT srid, type, coord_dimension AS dims FROM geometry_columns
     WHERE f_table_schema = $1 AND f_table_name = $2 AND f_geometry_column = $3`,
    [schema, output.table, geom.name],
  );
  let srid = col?.srid || null;
  // A column made by an expression (CREATE TABLE AS SELECT ST_Multi(...)) does not say its SRID; its values do.
  if (!srid) {
    const [first] = await db.query<{ srid: number }>(
      `SELECT ST_SRID(${ident(geom.name)}) AS srid FROM ${source} WHERE ${ident(geom.name)} IS NOT NULL LIMIT 1`,
    );
    srid = first?.srid || null;
  }
  const type = (col?.type ?? 'GEOMETRY').toUpperCase();
  return { attrs, geom, source, orderBy, srid, geometryType: type, hasZ: Number(col?.dims) >= 3 };
}

/** What a format needs of a table that it lacks, or undefined when it can be written. */
export function formatProblem(shape: TableShape, output: Output, format: OutputFormat): string | undefined {
  const name = output.name ?? output.table;
  if (format === 'csv' || format === 'geojson' || format === 'gpkg') return undefined;
  if (!shape.geom) return `output "${name}" has no geometry column "${output.geometry}": ${format} needs one`;
  if ((format === 'flatgeobuf' || format === 'geoparquet') && !shape.srid)
    return `output "${name}": its geometry has no SRID, so it cannot be put in EPSG:4326 for ${format} (set one with ST_SetSRID in the product's SQL)`;
  return undefined;
}

/**
 * Each output's formats, checked before anything is written, so a build that cannot publish a format
 * fails with no file left behind. Without `formats`: CSV and GeoJSON, and FlatGeobuf for every output with
 * a geometry (partners read it by ranges).
 */
export async function planExports(
  db: Database,
  schema: string,
  outputs: readonly Output[],
): Promise<{ output: Output; format: OutputFormat }[]> {
  const plan: { output: Output; format: OutputFormat }[] = [];
  for (const output of outputs) {
    const shape = await tableShape(db, schema, output);
    const formats: OutputFormat[] =
      output.formats ?? (shape.geom ? ['csv', 'geojson', 'flatgeobuf'] : ['csv', 'geojson']);
    for (const format of formats) {
      const problem = formatProblem(shape, output, format);
      if (problem) throw new BuildError(problem, { step: 'export' });
      plan.push({ output, format });
    }
  }
  return plan;
}

/**
 * Streams one output table into the egress bucket in one format: COPY out of the database, hashed on the
 * way, never held whole in memory. Formats other than CSV and GeoJSON are written into a temporary file
 * first: by ogr2ogr (GeoPackage, Shapefile), Strata's FlatGeobuf writer, or a Parquet writer (GeoParquet).
 */
export async function exportOutput(
  db: Database,
  store: ObjectStore,
  input: ExportInput,
): Promise<PublishedFile> {
  const { schema, output, format, prefix } = input;
  const shape = await tableShape(db, schema, output);
  const problem = formatProblem(shape, output, format);
  if (problem) throw new BuildError(problem, { step: 'export' });
  if (format === 'gpkg' || format === 'shapefile')
    return exportWithGdal(db, store, shape, { ...input, format });
  if (format === 'flatgeobuf') return exportFlatGeobuf(db, store, shape, input);
  if (format === 'geoparquet') return exportGeoParquet(db, store, shape, input);
  const { geom, attrs, source, orderBy } = shape;

  let body: AsyncIterable<Buffer>;
  const count: RowCount = { rows: 0 };
  let srid: number | null = null;
  if (format === 'csv') {
    const fields = attrs.map((c) => `${ident(c.name)}::text AS ${ident(c.name)}`);
    if (geom && output.csvGeometry === 'wkt') {
      fields.push(`ST_AsText(${ident(geom.name)}) AS geometry`);
      srid = shape.srid;
    } else if (geom && output.csvGeometry === 'lonlat') {
      const p = `ST_Transform(ST_PointOnSurface(${ident(geom.name)}), 4326)`;
      fields.push(`ST_X(${p})::text AS lon`, `ST_Y(${p})::text AS lat`);
      srid = 4326;
    }
    body = db.copyToCsv(`SELECT ${fields.join(', ')} FROM ${source} t${orderBy}`, count);
  } else {
    srid = geom ? 4326 : null;
    // Built by concatenation: compact, in the columns' order, and faster than row_to_json or
    // json_build_object (which pads with spaces); jsonb would sort the keys.
    const properties =
      attrs.length === 0
        ? `'{}'`
        : `'{' || ${attrs.map((c, i) => `${literal(`${i > 0 ? ',' : ''}${JSON.stringify(c.name)}:`)} || coalesce(to_json(t.${ident(c.name)})::text, 'null')`).join(' || ')} || '}'`;
    const tableSrid = shape.srid;
    const g = geom ? `t.${ident(geom.name)}` : '';
    const geometry = geom
      ? `coalesce(ST_AsGeoJSON(${tableSrid === 4326 ? g : `ST_Transform(${g}, 4326)`}), 'null')`
      : `'null'`;
    body = featureCollection(
      db.copyToLines(
        `SELECT '{"type":"Feature","properties":' || ${properties} || ',"geometry":' || ${geometry} || '},' FROM ${source} t${orderBy}`,
        count,
      ),
    );
  }

  const name = output.name ?? output.table;
  const key = outputKey(prefix, name, FORMAT_FILES[format].ext);
  const { size, sha256 } = await publishBytes(store, key, body, FORMAT_FILES[format].contentType);
  return { name, table: output.table, format, key, size, sha256, rows: count.rows, srid };
}
