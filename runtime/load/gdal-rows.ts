import { streamGdal } from '../adapters/gdal/facade.ts';
import type { CopyChunk } from '../ports/database.ts';
import type { GdalLayer } from './gdal-source.ts';

const NL = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;

/** The columns a layer's rows arrive in: the geometry first (as ogr2ogr writes it), then the fields asked for. */
export function gdalColumns(layer: GdalLayer): string[] {
  return [
    ...(layer.dataset.geometry.kind === 'geojson' ? ['geom'] : []),
    ...layer.fields.map((f) => f.column.name),
  ];
}

/**
 * ogr2ogr's arguments to write one layer as a PostgreSQL dump (`COPY ... FROM STDIN` in text format, the
 * geometry as hex EWKB) on stdout, with only the fields asked for, in their order, the geometry labelled
 * with the source SRID (PostGIS transforms it afterwards, far faster than ogr2ogr's -t_srs).
 */
export function pgDumpArgs(layer: GdalLayer): string[] {
  const g = layer.dataset.geometry;
  const args = [
    '--config',
    'PG_USE_COPY',
    'YES',
    '-f',
    'PGDump',
    '/vsistdout/',
    layer.path,
    layer.layer.name,
  ];
  for (const o of layer.openOptions) args.push('-oo', o);
  for (const o of [
    'CREATE_TABLE=OFF',
    'DROP_TABLE=OFF',
    'SPATIAL_INDEX=NONE',
    'GEOMETRY_NAME=geom',
    'LAUNDER=NO',
  ])
    args.push('-lco', o);
  args.push('-nln', 'strata_load', '-unsetFid', '-select', layer.fields.map((f) => f.field).join(','));
  if (g.kind === 'geojson') {
    args.push('-lco', `SRID=${g.sourceSrid}`);
    // PGDump sets each geometry to its layer's dimension: a layer of no declared type (KML) is 2D, and
    // its Z values would be dropped before PostGIS could keep them.
    if (g.dimensions === 3) args.push('-lco', 'DIM=3');
    if (g.type?.startsWith('Multi')) args.push('-nlt', 'PROMOTE_TO_MULTI');
  } else args.push('-nlt', 'NONE');
  return args;
}

/** The quoted names of a `COPY "schema"."table" ("a", "b") FROM STDIN;` line. */
function copyColumns(line: string): string[] {
  const list = /\(([^)]*)\) FROM STDIN;$/.exec(line)?.[1] ?? '';
  return [...list.matchAll(/"((?:[^"]|"")*)"/g)].map((m) => m[1]!.replace(/""/g, '"'));
}

/** True when the byte at `i` is escaped: an odd run of backslashes stands right before it (from `from` on). */
function escaped(buf: Buffer, i: number, from: number): boolean {
  let j = i - 1;
  while (j >= from && buf[j] === BACKSLASH) j--;
  return (i - 1 - j) % 2 === 1;
}

/**
 * Streams a layer's rows as COPY text chunks of about `chunkBytes`, each ending on a row, one row a line:
 * ogr2ogr writes a newline or carriage return inside a value as a backslash and the raw character, which
 * COPY reads but which would split a row over two lines; they are rewritten in place as `\n` and `\r` (same
 * length), so line N of the data is feature N - 1 of the layer, as a refusal reports it. Ends ogr2ogr when
 * the reader stops early; throws GdalFailedError when ogr2ogr fails.
 */
export async function* gdalRows(layer: GdalLayer, chunkBytes = 4 << 20): AsyncGenerator<CopyChunk> {
  const p = await streamGdal(pgDumpArgs(layer));
  // As the file names them; gdalColumns gives the table's names for the same order.
  const expected = [
    ...(layer.dataset.geometry.kind === 'geojson' ? ['geom'] : []),
    ...layer.fields.map((f) => f.field),
  ];
  let state: 'head' | 'data' | 'tail' = 'head';
  let carry: Buffer = Buffer.alloc(0);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let pendingRows = 0;
  let finished = false;
  try {
    for await (const raw of p.stdout) {
      if (state === 'tail') continue;
      const data: Buffer = carry.length > 0 ? Buffer.concat([carry, raw as Buffer]) : (raw as Buffer);
      let lineStart = 0;
      if (state === 'head') {
        for (let i = data.indexOf(NL); i !== -1; i = data.indexOf(NL, lineStart)) {
          const line = data.toString('utf8', lineStart, i);
          lineStart = i + 1;
          if (line.startsWith('COPY ')) {
            const got = copyColumns(line);
            if (got.join('\u0000') !== expected.join('\u0000'))
              throw new Error(`ogr2ogr wrote columns (${got.join(', ')}), expected (${expected.join(', ')})`);
            state = 'data';
            break;
          }
        }
      }
      const emitStart = lineStart;
      if (state === 'data') {
        for (let i = data.indexOf(NL, lineStart); i !== -1; i = data.indexOf(NL, i + 1)) {
          if (escaped(data, i, lineStart)) {
            data[i] = 0x6e; // "\" + newline becomes "\n"
            continue;
          }
          if (i - lineStart === 2 && data[lineStart] === BACKSLASH && data[lineStart + 1] === 0x2e) {
            state = 'tail'; // the "\." that ends the COPY data
            break;
          }
          pendingRows++;
          lineStart = i + 1;
        }
        for (let i = data.indexOf(CR, emitStart); i !== -1 && i < lineStart; i = data.indexOf(CR, i + 1))
          if (escaped(data, i, emitStart)) data[i] = 0x72; // "\" + carriage return becomes "\r"
        if (lineStart > emitStart) {
          pending.push(data.subarray(emitStart, lineStart));
          pendingBytes += lineStart - emitStart;
        }
      }
      carry = state === 'tail' ? Buffer.alloc(0) : data.subarray(lineStart);
      if (pendingBytes >= chunkBytes || (state === 'tail' && pendingBytes > 0)) {
        yield { data: Buffer.concat(pending), rows: pendingRows };
        pending = [];
        pendingBytes = 0;
        pendingRows = 0;
      }
    }
    await p.done;
    if (state === 'data') throw new Error('ogr2ogr ended without finishing its COPY data');
    if (pendingBytes > 0) yield { data: Buffer.concat(pending), rows: pendingRows };
    finished = true;
  } finally {
    if (!finished) p.stop();
  }
}
