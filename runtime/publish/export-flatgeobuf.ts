/**
 * FlatGeobuf, written by Strata itself: rows streamed out of the database (binary COPY on a server, JSON
 * lines through a cursor on PGlite), each written as a feature to a work file as it comes while its box
 * is kept (40 bytes a feature), then the packed Hilbert R-tree made from the boxes alone, and the file
 * streamed to the bucket as header, index and the features copied into the index's order.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { outputKey } from '../layout/buckets.ts';
import type { Database, RowCount } from '../ports/database.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { BinaryCopyReader, type BinaryTuple } from '../util/copy-binary.ts';
import { ident } from '../util/sql.ts';
import { ByteWriter, COLUMN_TYPE, GEOMETRY_TYPE, writeFeature } from './fgb-encode.ts';
import { featureWindows, headerBytes, orderedFeatures } from './fgb-file.ts';
import { FeatureBoxes, treeBytes } from './fgb-index.ts';
import type { PublishedFile } from './manifest.ts';
import {
  type ColumnInfo,
  type ExportInput,
  FORMAT_FILES,
  publishBytes,
  type TableShape,
} from './output-file.ts';

/** How a column's values travel and what FlatGeobuf type they become: the types GDAL gave them before. */
type Kind = 'int' | 'long' | 'double' | 'number' | 'bool' | 'datetime' | 'text';

interface ColumnPlan {
  readonly name: string;
  readonly kind: Kind;
  readonly type: number;
  /** The value as the binary COPY carries it. */
  readonly select: string;
  /** The value in a JSON array (a bigint as text: a JSON number cannot hold every one). */
  readonly json: string;
}

function columnPlan(c: ColumnInfo): ColumnPlan {
  const col = `t.${ident(c.name)}`;
  const t = c.type;
  const plan = (kind: Kind, type: number, select: string, json = select) => ({
    name: c.name,
    kind,
    type,
    select,
    json,
  });
  if (t === 'smallint' || t === 'integer') return plan('int', COLUMN_TYPE.Int, `${col}::int4`);
  if (t === 'bigint') return plan('long', COLUMN_TYPE.Long, col, `${col}::text`);
  if (t === 'double precision') return plan('double', COLUMN_TYPE.Double, col);
  // As their text, read as a double: what GDAL made of them (0.1::real is 0.1, not 0.100000001490116).
  if (t === 'real' || t.startsWith('numeric')) return plan('number', COLUMN_TYPE.Double, `${col}::text`);
  if (t === 'boolean') return plan('bool', COLUMN_TYPE.Bool, col);
  // ISO 8601, as GDAL writes a Date or DateTime field into FlatGeobuf; milliseconds only when not zero.
  if (t === 'date') return plan('datetime', COLUMN_TYPE.DateTime, `to_char(${col}, 'YYYY-MM-DD"T00:00:00"')`);
  if (t.startsWith('timestamp')) {
    const select = t.includes('with time zone')
      ? `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
      : `to_char(${col}, 'YYYY-MM-DD"T"HH24:MI:SS.MS')`;
    return plan('datetime', COLUMN_TYPE.DateTime, select);
  }
  return plan('text', COLUMN_TYPE.String, `${col}::text`);
}

/** A timestamp's text without `.000` (GDAL writes milliseconds only when there are some). */
const withoutZeroMs = (s: string) => s.replace(/\.000(Z?)$/, '$1');

/** A timestamp's text from `buf`, less a `.000` before its end or its `Z`, with its length before it. */
function writeDatetime(w: ByteWriter, buf: Buffer, at: number, len: number): void {
  const z = buf[at + len - 1] === 0x5a ? 1 : 0;
  const dot = at + len - z - 4;
  const zeroMs =
    len >= 4 + z &&
    buf[dot] === 0x2e &&
    buf[dot + 1] === 0x30 &&
    buf[dot + 2] === 0x30 &&
    buf[dot + 3] === 0x30;
  if (!zeroMs) {
    w.u32(len);
    w.copy(buf, at, len);
    return;
  }
  w.u32(len - 4);
  w.copy(buf, at, dot - at);
  if (z) w.u8(0x5a);
}

/** Each feature written to the work file as its row arrives; its box and offset kept. */
class FeatureSink {
  readonly boxes = new FeatureBoxes();
  private readonly props = new ByteWriter();
  private readonly feature = new ByteWriter();
  private readonly staged = new ByteWriter();
  private readonly box = new Float64Array(4);
  private written = 0;

  constructor(
    private readonly fh: Awaited<ReturnType<typeof open>>,
    private readonly plans: readonly ColumnPlan[],
    private readonly hasZ: boolean,
  ) {}

  /** A row of the binary COPY: the columns, then the geometry's WKB. */
  binaryRow(t: BinaryTuple): void {
    const w = this.props;
    const buf = t.buf;
    w.reset();
    for (let i = 0; i < this.plans.length; i++) {
      const len = t.length[i]!;
      if (len < 0) continue;
      const at = t.start[i]!;
      w.u16(i);
      switch (this.plans[i]!.kind) {
        case 'int':
          w.reversed(buf, at, 4);
          break;
        case 'long':
        case 'double':
          w.reversed(buf, at, 8);
          break;
        case 'bool':
          w.u8(buf[at]!);
          break;
        case 'number':
          w.f64(Number(buf.toString('latin1', at, at + len)));
          break;
        case 'datetime':
          writeDatetime(w, buf, at, len);
          break;
        default:
          w.u32(len);
          w.copy(buf, at, len);
      }
    }
    this.add(t.view, t.start[this.plans.length]!);
  }

  /** A row as a JSON array: the columns, then the geometry's WKB in hex. */
  jsonRow(row: unknown[]): void {
    const w = this.props;
    w.reset();
    for (let i = 0; i < this.plans.length; i++) {
      const v = row[i];
      if (v === null || v === undefined) continue;
      w.u16(i);
      const kind = this.plans[i]!.kind;
      if (kind === 'int') w.i32(v as number);
      else if (kind === 'long') w.i64(BigInt(v as string));
      // PostgreSQL's JSON spells NaN and the infinities as strings.
      else if (kind === 'double' || kind === 'number') w.f64(Number(v));
      else if (kind === 'bool') w.u8(v ? 1 : 0);
      else w.text(kind === 'datetime' ? withoutZeroMs(v as string) : (v as string));
    }
    const wkb = Buffer.from(row[this.plans.length] as string, 'hex');
    this.add(new DataView(wkb.buffer, wkb.byteOffset, wkb.byteLength), 0);
  }

  private add(view: DataView, at: number): void {
    const f = this.feature;
    if (!writeFeature(f, view, at, this.hasZ, this.props.bytes, this.props.pos, this.box)) return;
    this.boxes.add(this.box, this.written);
    this.written += f.pos;
    this.staged.copy(f.bytes, 0, f.pos);
  }

  /** Writes out what is staged once there is enough of it (`all`: whatever there is). */
  async flush(all = false): Promise<void> {
    if (this.staged.pos < 1 << 20 && !all) return;
    await this.fh.write(this.staged.bytes, 0, this.staged.pos);
    this.staged.reset();
    if (all) this.boxes.end = this.written;
  }
}

/** The rows' SELECT: the columns and the geometry's WKB in EPSG:4326; no row without a position. */
function rowsSelect(shape: TableShape, fields: readonly string[], wkb: (g: string) => string): string {
  const g = `t.${ident(shape.geom!.name)}`;
  const in4326 = shape.srid === 4326 ? g : `ST_Transform(${g}, 4326)`;
  // FlatGeobuf's index needs a box for every feature: one without a position is left out, as GDAL does.
  const where = ` WHERE ${g} IS NOT NULL AND NOT ST_IsEmpty(${g})`;
  return `SELECT ${[...fields, wkb(in4326)].join(', ')} FROM ${shape.source} t${where}${shape.orderBy}`;
}

/** Streams the rows into the work file; returns the features' boxes. */
async function writeWork(db: Database, shape: TableShape, plans: readonly ColumnPlan[], path: string) {
  const fh = await open(path, 'wx');
  try {
    const sink = new FeatureSink(fh, plans, shape.hasZ);
    const count: RowCount = { rows: 0 };
    if (db.copyToBinary) {
      const select = rowsSelect(
        shape,
        plans.map((p) => p.select),
        (g) => `ST_AsBinary(${g})`,
      );
      const reader = new BinaryCopyReader(plans.length + 1);
      for await (const chunk of db.copyToBinary(select, count)) {
        reader.push(chunk, (t) => sink.binaryRow(t));
        await sink.flush();
      }
      reader.end();
    } else {
      const fields = plans.map((p) => p.json);
      const select = rowsSelect(
        shape,
        [],
        (g) => `json_build_array(${[...fields, `encode(ST_AsBinary(${g}), 'hex')`].join(', ')})::text`,
      );
      const decoder = new StringDecoder('utf8');
      let carry = '';
      for await (const chunk of db.copyToLines(select, count)) {
        const text = carry + decoder.write(chunk);
        const end = text.lastIndexOf('\n');
        carry = text.slice(end + 1);
        for (const line of text.slice(0, end).split('\n'))
          if (line !== '') sink.jsonRow(JSON.parse(line) as unknown[]);
        await sink.flush();
      }
    }
    await sink.flush(true);
    return sink.boxes;
  } finally {
    await fh.close();
  }
}

/** The whole file: header, index, features. */
async function* fileBytes(
  name: string,
  shape: TableShape,
  plans: readonly ColumnPlan[],
  boxes: FeatureBoxes,
  work: { path: string; dir: string; windowBytes?: number },
): AsyncGenerator<Buffer> {
  yield headerBytes({
    name,
    columns: plans,
    geometryType: GEOMETRY_TYPE[shape.geometryType] ?? 0,
    hasZ: shape.hasZ,
    count: boxes.count,
    extent: boxes.extent,
  });
  if (boxes.count === 0) return;
  let order: Uint32Array | undefined = boxes.sortByHilbert();
  yield* treeBytes(boxes);
  boxes.dropBoxes();
  const windows = featureWindows(boxes, order, work.windowBytes);
  // What is let go here is not held while the features are copied.
  order = undefined;
  yield* orderedFeatures(work.path, work.dir, windows);
}

/**
 * FlatGeobuf in EPSG:4326 with its packed Hilbert R-tree (node size 16), features in the index's order.
 * Memory holds 40 bytes a feature and a window of features; disk holds the features twice more while the
 * export runs (the work file, and the windows' files when there is more than one window).
 */
export async function exportFlatGeobuf(
  db: Database,
  store: ObjectStore,
  shape: TableShape,
  input: ExportInput,
  /** Bytes of features copied at a time (tests make it small, to have many windows). */
  windowBytes?: number,
): Promise<PublishedFile> {
  const { output, prefix } = input;
  const name = output.name ?? output.table;
  // formatProblem has refused a table without geometry or SRID before any file was written.
  if (!shape.geom || !shape.srid) throw new Error(`output "${name}" cannot be FlatGeobuf`);
  const plans = shape.attrs.map(columnPlan);
  const dir = await mkdtemp(join(input.tmpDir ?? tmpdir(), 'strata-export-'));
  try {
    const path = join(dir, 'features');
    const boxes = await writeWork(db, shape, plans, path);
    const rows = boxes.count;
    const key = outputKey(prefix, name, FORMAT_FILES.flatgeobuf.ext);
    const { size, sha256 } = await publishBytes(
      store,
      key,
      fileBytes(name, shape, plans, boxes, { path, dir, windowBytes }),
      FORMAT_FILES.flatgeobuf.contentType,
    );
    return { name, table: output.table, format: 'flatgeobuf', key, size, sha256, rows, srid: 4326 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
