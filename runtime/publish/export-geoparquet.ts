import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { SchemaElement } from 'hyparquet';
import { outputKey } from '../layout/buckets.ts';
import type { Database, RowCount } from '../ports/database.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { ident } from '../util/sql.ts';
import { PLATFORM_VERSION } from '../version.ts';
import type { PublishedFile } from './manifest.ts';
import {
  type ColumnInfo,
  type ExportInput,
  FORMAT_FILES,
  publishBytes,
  type TableShape,
} from './output-file.ts';

/** A column as the JSON row array carries it, and how it becomes a Parquet value. */
interface ColumnPlan {
  readonly name: string;
  /** SQL giving a JSON value (as json_build_array takes it). */
  readonly select: string;
  readonly element: SchemaElement;
  readonly convert: (v: unknown) => unknown;
}

const asIs = (v: unknown) => v;
const orNull =
  <T>(f: (v: string) => T) =>
  (v: unknown) =>
    v === null || v === undefined ? null : f(String(v));

function columnPlan(c: ColumnInfo): ColumnPlan {
  const col = `t.${ident(c.name)}`;
  const t = c.type;
  const optional = { name: c.name, repetition_type: 'OPTIONAL' as const };
  if (t === 'smallint' || t === 'integer')
    return { name: c.name, select: col, element: { ...optional, type: 'INT32' }, convert: asIs };
  // As text: a JSON number cannot hold every bigint.
  if (t === 'bigint')
    return {
      name: c.name,
      select: `${col}::text`,
      element: { ...optional, type: 'INT64' },
      convert: orNull(BigInt),
    };
  if (t === 'real' || t === 'double precision' || t.startsWith('numeric'))
    return {
      name: c.name,
      select: `${col}::float8`,
      element: { ...optional, type: 'DOUBLE' },
      // JSON has no Infinity or NaN: PostgreSQL writes them as the strings "Infinity", "-Infinity", "NaN".
      convert: orNull(Number),
    };
  if (t === 'boolean')
    return { name: c.name, select: col, element: { ...optional, type: 'BOOLEAN' }, convert: asIs };
  if (t === 'date')
    return {
      name: c.name,
      select: `(${col} - DATE '1970-01-01')`,
      element: { ...optional, type: 'INT32', converted_type: 'DATE' },
      convert: asIs,
    };
  if (t.startsWith('timestamp'))
    return {
      name: c.name,
      select: `(extract(epoch FROM ${col}) * 1000)::bigint::text`,
      element: { ...optional, type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' },
      convert: orNull(BigInt),
    };
  if (t === 'json' || t === 'jsonb')
    return {
      name: c.name,
      select: `${col}::text`,
      element: { ...optional, type: 'BYTE_ARRAY', converted_type: 'JSON' },
      convert: orNull((s) => JSON.parse(s) as unknown),
    };
  return {
    name: c.name,
    select: `${col}::text`,
    element: { ...optional, type: 'BYTE_ARRAY', converted_type: 'UTF8' },
    convert: asIs,
  };
}

const GEOMETRY_TYPES: Record<string, string> = {
  ST_Point: 'Point',
  ST_LineString: 'LineString',
  ST_Polygon: 'Polygon',
  ST_MultiPoint: 'MultiPoint',
  ST_MultiLineString: 'MultiLineString',
  ST_MultiPolygon: 'MultiPolygon',
  ST_GeometryCollection: 'GeometryCollection',
};

/** Rows held before they are written as a row group: bounded by count and by geometry bytes. */
const GROUP_ROWS = 65_536;
const GROUP_BYTES = 64 << 20;

/**
 * GeoParquet 1.1 (GDAL 3.6 has no Parquet driver; hyparquet-writer writes it): the attributes in their
 * Parquet types, the geometry as ISO WKB in EPSG:4326 (OGC:CRS84, so the `geo` metadata needs no `crs`),
 * with its geometry types and bbox. Rows are streamed out of the database as JSON arrays and written one
 * row group at a time into a work file, which is then streamed to the bucket.
 */
export async function exportGeoParquet(
  db: Database,
  store: ObjectStore,
  shape: TableShape,
  input: ExportInput,
): Promise<PublishedFile> {
  const { output, prefix } = input;
  const name = output.name ?? output.table;
  const geom = shape.geom;
  // formatProblem has refused a table without geometry or SRID before any file was written.
  if (!geom || !shape.srid) throw new Error(`output "${name}" cannot be GeoParquet`);
  const plans = shape.attrs.map(columnPlan);
  const g = shape.srid === 4326 ? `t.${ident(geom.name)}` : `ST_Transform(t.${ident(geom.name)}, 4326)`;
  const selects = [
    ...plans.map((p) => p.select),
    `encode(ST_AsBinary(${g}), 'hex')`,
    `ST_GeometryType(${g})`,
    `ST_Zmflag(${g})`,
    `ST_XMin(${g})`,
    `ST_YMin(${g})`,
    `ST_XMax(${g})`,
    `ST_YMax(${g})`,
  ];
  const work = await mkdtemp(join(input.tmpDir ?? tmpdir(), 'strata-export-'));
  try {
    const file = join(work, `${name}.parquet`);
    const count: RowCount = { rows: 0 };
    const lines = db.copyToLines(
      `SELECT json_build_array(${selects.join(', ')})::text FROM ${shape.source} t${shape.orderBy}`,
      count,
    );
    await writeParquet(file, plans, geom.name, jsonRows(lines));
    const key = outputKey(prefix, name, FORMAT_FILES.geoparquet.ext);
    const { size, sha256 } = await publishBytes(
      store,
      key,
      createReadStream(file, { highWaterMark: 1 << 20 }),
      FORMAT_FILES.geoparquet.contentType,
    );
    return {
      name,
      table: output.table,
      format: 'geoparquet',
      key,
      size,
      sha256,
      rows: count.rows,
      srid: 4326,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Rows as the database writes them, one JSON array a line. */
async function* jsonRows(lines: AsyncIterable<Buffer>): AsyncGenerator<unknown[]> {
  // A character may straddle two chunks: the decoder holds its first bytes back.
  const decoder = new StringDecoder('utf8');
  let carry = '';
  for await (const chunk of lines) {
    const text = carry + decoder.write(chunk);
    const end = text.lastIndexOf('\n');
    carry = text.slice(end + 1);
    for (const line of text.slice(0, end).split('\n')) if (line !== '') yield JSON.parse(line) as unknown[];
  }
}

/**
 * Writes the rows (the attributes, then the geometry's hex WKB, type, Z/M flag and bbox) into a Parquet
 * file, a row group at a time, with the `geo` metadata in its footer.
 */
async function writeParquet(
  file: string,
  plans: readonly ColumnPlan[],
  geometry: string,
  rows: AsyncIterable<unknown[]>,
): Promise<void> {
  const schema: SchemaElement[] = [
    { name: 'root', num_children: plans.length + 1 },
    ...plans.map((p) => p.element),
    { name: geometry, type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
  ];
  // Loaded when a GeoParquet is written, not at the start of every command.
  const { fileWriter, ParquetWriter } = await import('hyparquet-writer');
  const writer = new ParquetWriter({
    writer: fileWriter(file),
    schema,
    createdBy: `strata ${PLATFORM_VERSION} (hyparquet-writer)`,
  });
  const groups = new RowGroups(schema.slice(1), plans, (columnData, rowGroupSize) =>
    writer.write({ columnData, rowGroupSize }),
  );
  for await (const row of rows) groups.add(row);
  groups.flush();
  // Known only once every row is read: the footer that holds it is written last.
  writer.kvMetadata = [{ key: 'geo', value: JSON.stringify(groups.geoMetadata(geometry)) }];
  writer.finish();
}

/** Rows held as columns until a row group is full, and what the `geo` metadata says of the geometries. */
class RowGroups {
  private columns: unknown[][] = [];
  private rows = 0;
  private bytes = 0;
  private readonly types = new Set<string>();
  private readonly bbox = [Infinity, Infinity, -Infinity, -Infinity];

  constructor(
    private readonly elements: readonly SchemaElement[],
    private readonly plans: readonly ColumnPlan[],
    private readonly write: (columnData: { name: string; data: unknown[] }[], rows: number) => void,
  ) {
    this.reset();
  }

  add(row: unknown[]): void {
    const plans = this.plans;
    plans.forEach((p, i) => {
      this.columns[i]!.push(p.convert(row[i]));
    });
    const k = plans.length;
    const hex = row[k] as string | null;
    const wkb = hex === null ? null : Buffer.from(hex, 'hex');
    this.columns[k]!.push(wkb);
    if (wkb) {
      const zm = row[k + 2] as number;
      this.types.add(
        `${GEOMETRY_TYPES[row[k + 1] as string] ?? 'GeometryCollection'}${zm === 2 || zm === 3 ? ' Z' : ''}`,
      );
      const [x0, y0, x1, y1] = row.slice(k + 3, k + 7) as number[];
      const bbox = this.bbox;
      if (x0! < bbox[0]!) bbox[0] = x0!;
      if (y0! < bbox[1]!) bbox[1] = y0!;
      if (x1! > bbox[2]!) bbox[2] = x1!;
      if (y1! > bbox[3]!) bbox[3] = y1!;
      this.bytes += wkb.length;
    }
    this.rows++;
    if (this.rows >= GROUP_ROWS || this.bytes >= GROUP_BYTES) this.flush();
  }

  flush(): void {
    if (this.rows === 0) return;
    this.write(
      this.elements.map((e, i) => ({ name: e.name, data: this.columns[i]! })),
      this.rows,
    );
    this.reset();
  }

  geoMetadata(geometry: string) {
    return {
      version: '1.1.0',
      primary_column: geometry,
      columns: {
        [geometry]: {
          encoding: 'WKB',
          geometry_types: [...this.types].sort(),
          ...(Number.isFinite(this.bbox[0]) ? { bbox: this.bbox } : {}),
        },
      },
    };
  }

  private reset(): void {
    this.columns = this.elements.map(() => []);
    this.rows = 0;
    this.bytes = 0;
  }
}
