/**
 * A FlatGeobuf file's parts around its features: the magic and header, and the features copied from the
 * work file (where they were written as the rows came) into the index's order, through a bounded buffer.
 */
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as flatbuffers from 'flatbuffers';
import { Column } from 'flatgeobuf/lib/mjs/flat-geobuf/column.js';
import { Crs } from 'flatgeobuf/lib/mjs/flat-geobuf/crs.js';
import { Header } from 'flatgeobuf/lib/mjs/flat-geobuf/header.js';
import { ByteWriter } from './fgb-encode.ts';
import { type FeatureBoxes, NODE_SIZE } from './fgb-index.ts';

/** "fgb", version 3, "fgb", patch 1: the format's magic bytes as GDAL 3.6 writes them. */
const MAGIC = Buffer.from([0x66, 0x67, 0x62, 0x03, 0x66, 0x67, 0x62, 0x01]);

/** EPSG:4326 as GDAL writes it into a FlatGeobuf's CRS, for readers without an EPSG database. */
const WGS84_WKT =
  'GEOGCRS["WGS 84",ENSEMBLE["World Geodetic System 1984 ensemble",MEMBER["World Geodetic System 1984 (Transit)"],MEMBER["World Geodetic System 1984 (G730)"],MEMBER["World Geodetic System 1984 (G873)"],MEMBER["World Geodetic System 1984 (G1150)"],MEMBER["World Geodetic System 1984 (G1674)"],MEMBER["World Geodetic System 1984 (G1762)"],MEMBER["World Geodetic System 1984 (G2139)"],ELLIPSOID["WGS 84",6378137,298.257223563,LENGTHUNIT["metre",1]],ENSEMBLEACCURACY[2.0]],PRIMEM["Greenwich",0,ANGLEUNIT["degree",0.0174532925199433]],CS[ellipsoidal,2],AXIS["geodetic latitude (Lat)",north,ORDER[1],ANGLEUNIT["degree",0.0174532925199433]],AXIS["geodetic longitude (Lon)",east,ORDER[2],ANGLEUNIT["degree",0.0174532925199433]],USAGE[SCOPE["Horizontal component of 3D system."],AREA["World."],BBOX[-90,-180,90,180]],ID["EPSG",4326]]';

export interface HeaderFields {
  readonly name: string;
  readonly columns: readonly { readonly name: string; readonly type: number }[];
  readonly geometryType: number;
  readonly hasZ: boolean;
  readonly count: number;
  readonly extent: readonly number[];
}

/** The magic bytes and the size-prefixed header flatbuffer (made once, so by a flatbuffers Builder). */
export function headerBytes(h: HeaderFields): Buffer {
  const b = new flatbuffers.Builder(1024);
  const columns = h.columns.map((c) => {
    const name = b.createString(c.name);
    Column.startColumn(b);
    Column.addName(b, name);
    Column.addType(b, c.type);
    return Column.endColumn(b);
  });
  const columnsVector = Header.createColumnsVector(b, columns);
  const name = b.createString(h.name);
  const [org, crsName, wkt] = [b.createString('EPSG'), b.createString('WGS 84'), b.createString(WGS84_WKT)];
  Crs.startCrs(b);
  Crs.addOrg(b, org);
  Crs.addCode(b, 4326);
  Crs.addName(b, crsName);
  Crs.addWkt(b, wkt);
  const crs = Crs.endCrs(b);
  const envelope = h.count > 0 ? Header.createEnvelopeVector(b, [...h.extent]) : 0;
  Header.startHeader(b);
  Header.addName(b, name);
  if (envelope) Header.addEnvelope(b, envelope);
  Header.addGeometryType(b, h.geometryType);
  Header.addHasZ(b, h.hasZ);
  Header.addColumns(b, columnsVector);
  Header.addFeaturesCount(b, BigInt(h.count));
  // A file of no features has no index: its node size says so (0), as GDAL writes one.
  Header.addIndexNodeSize(b, h.count > 0 ? NODE_SIZE : 0);
  Header.addCrs(b, crs);
  b.finishSizePrefixed(Header.endHeader(b));
  return Buffer.concat([MAGIC, b.asUint8Array()]);
}

/** Features per buffer of the output: bounded, so memory does not grow with the file. */
export const WINDOW_BYTES = 8 << 20;
/** What the work file is read by. */
const READ_BYTES = 1 << 20;

/**
 * Calls `onFeature` for each feature of the work file in the order they were written, reading it front
 * to back (each feature says its length in its size prefix); awaits `afterChunk` between reads (to write
 * out what the calls gathered).
 */
async function scanWork(
  path: string,
  count: number,
  onFeature: (f: number, buf: Buffer, at: number, size: number) => void,
  afterChunk: () => Promise<void>,
): Promise<void> {
  const fh = await open(path, 'r');
  try {
    let buf = Buffer.allocUnsafe(READ_BYTES);
    let held = 0;
    let f = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, held, buf.length - held, null);
      const length = held + bytesRead;
      let at = 0;
      while (at + 4 <= length && at + 4 + buf.readUInt32LE(at) <= length) {
        const size = 4 + buf.readUInt32LE(at);
        onFeature(f++, buf, at, size);
        at += size;
      }
      await afterChunk();
      if (bytesRead === 0) break;
      // What is left of a feature cut by the read moves to the front; a feature longer than the buffer grows it.
      held = length - at;
      const need = held >= 4 ? 4 + buf.readUInt32LE(at) : 4;
      const next = need > buf.length ? Buffer.allocUnsafe(need) : buf;
      buf.copy(next, 0, at, length);
      buf = next;
    }
    if (f !== count || held !== 0)
      throw new Error(`the FlatGeobuf work file ${path} holds ${f} features, not ${count}`);
  } finally {
    await fh.close();
  }
}

export type FeatureWindows = ReturnType<typeof featureWindows>;

/** Which output window each feature goes to, where in it, and each window's length. */
export function featureWindows(boxes: FeatureBoxes, order: Uint32Array, windowBytes = WINDOW_BYTES) {
  // Up to 65,535 windows: 512 GB of features.
  const windowOf = new Uint16Array(boxes.count);
  const at = new Uint32Array(boxes.count);
  const lengths: number[] = [0];
  for (let k = 0; k < boxes.count; k++) {
    const size = boxes.size(k);
    const f = order[k]!;
    if (lengths[lengths.length - 1]! > 0 && lengths[lengths.length - 1]! + size > windowBytes)
      lengths.push(0);
    windowOf[f] = lengths.length - 1;
    at[f] = lengths[lengths.length - 1]!;
    lengths[lengths.length - 1]! += size;
  }
  return { count: boxes.count, windowOf, at, lengths };
}

/**
 * The features in the index's order, a window of about 8 MB at a time. One window: placed straight from
 * the work file. More: the work file is read once and each feature appended, behind its place in its
 * window, to that window's file; then each window's file is read whole and its features placed. Every byte
 * is read twice and written once more whatever the order the rows came in (a window per pass over the
 * work file would read it as many times as there are windows).
 */
export async function* orderedFeatures(
  path: string,
  dir: string,
  { count, windowOf, at, lengths }: FeatureWindows,
): AsyncGenerator<Buffer> {
  if (lengths.length === 1) {
    const out = Buffer.allocUnsafe(lengths[0]!);
    await scanWork(
      path,
      count,
      (f, buf, from, size) => buf.copy(out, at[f]!, from, from + size),
      async () => {},
    );
    yield out;
    return;
  }
  const files = lengths.map((_, w) => join(dir, `window-${w}`));
  const handles = await Promise.all(files.map((f) => open(f, 'wx')));
  const staged = lengths.map(() => new ByteWriter());
  try {
    await scanWork(
      path,
      count,
      (f, buf, from, size) => {
        const w = staged[windowOf[f]!]!;
        w.u32(at[f]!);
        w.copy(buf, from, size);
      },
      async () => {
        // Every read's features go out before the next read: what is staged is one read's worth at most.
        for (let w = 0; w < staged.length; w++) {
          if (staged[w]!.pos === 0) continue;
          await handles[w]!.write(staged[w]!.bytes, 0, staged[w]!.pos);
          staged[w]!.reset();
        }
      },
    );
    for (let w = 0; w < staged.length; w++) {
      await handles[w]!.write(staged[w]!.bytes, 0, staged[w]!.pos);
      staged[w] = new ByteWriter();
    }
  } finally {
    await Promise.all(handles.map((h) => h.close()));
  }
  yield* placeWindows(files, lengths);
}

/** Each window's file read whole and its features put in their places: [u32 place][feature]... */
async function* placeWindows(files: readonly string[], lengths: readonly number[]): AsyncGenerator<Buffer> {
  // One buffer read into for every window (each window's file is its features and 4 bytes for each).
  let room = Buffer.allocUnsafe(0);
  for (let w = 0; w < files.length; w++) {
    const fh = await open(files[w]!, 'r');
    let data: Buffer;
    try {
      const { size } = await fh.stat();
      if (size > room.length) room = Buffer.allocUnsafe(size);
      const { bytesRead } = await fh.read(room, 0, size, 0);
      if (bytesRead !== size) throw new Error(`${files[w]} ends early`);
      data = room.subarray(0, size);
    } finally {
      await fh.close();
    }
    await rm(files[w]!);
    const out = Buffer.allocUnsafe(lengths[w]!);
    for (let p = 0; p < data.length; ) {
      const place = data.readUInt32LE(p);
      const size = 4 + data.readUInt32LE(p + 4);
      data.copy(out, place, p + 4, p + 4 + size);
      p += 4 + size;
    }
    yield out;
  }
}
