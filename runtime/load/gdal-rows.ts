import { streamGdal } from '../adapters/gdal/facade.ts';
import { LoadError } from '../errors.ts';
import type { CopyChunk } from '../ports/database.ts';
import { printedShort } from './gdal-info.ts';
import type { GdalLayer } from './gdal-source.ts';

const NL = 0x0a;
const CR = 0x0d;
const TAB = 0x09;
const BACKSLASH = 0x5c;

/** The columns a layer's rows arrive in: the geometry first (as ogr2ogr writes it), then the fields asked for. */
export function gdalColumns(layer: GdalLayer): string[] {
  return [
    ...(layer.dataset.geometry.kind === 'geojson' ? ['geom'] : []),
    ...layer.fields.map((f) => f.column.name),
  ];
}

/**
 * A double GDAL would print with 15 significant digits (`%.15g`, in PGDump as in every text format GDAL 3.6
 * to 3.8 writes), which is two short of what tells every double apart: 0.1 + 0.2 would arrive as 0.3. GDAL is
 * asked instead, in its own SQL, for three numbers that add up to the double exactly, and prints each:
 *   half = x × 0.5            exact for all but the smallest doubles, and never past the largest when
 *                             printed (x itself could be: -1.7976931348623157e308 prints as -1.79769313486232e308);
 *   rest = half − the double its 15 digits read as
 *                             exact (the two are within a factor of 2, Sterbenz), and printed 15 digits
 *                             deep it is off by some 1e-30 of x, far under the half unit that rounding forgives;
 *   low  = x − half × 2       the bit halving dropped from a subnormal x, 0 otherwise.
 * Strata adds them back (`exactDouble`) and writes the shortest text that reads as the same double. A
 * single-precision Real (`Real(Float32)`) is left to GDAL, which prints the float it holds with the digits it needs.
 */
export interface ReadPlan {
  /** ogr2ogr's arguments. */
  readonly args: string[];
  /** The columns of the COPY header GDAL writes, as it names them. */
  readonly header: string[];
  /** Where each exact double's `half` stands in a row as GDAL writes it (its `rest` and `low` follow), ascending. */
  readonly halves: readonly number[];
  /** Where the head of the geometry's WKT stands, last in the row, when Z may hide in a 2D dataset's layer. */
  readonly wkt?: number;
}

/** A name in GDAL's SQL: in double quotes, a quote inside escaped by a backslash (its lexer's one escape). */
function ogrSqlName(name: string): string {
  return `"${name.replaceAll('"', '\\"')}"`;
}

/** True for a field read as its three exact parts. */
function needsExact(layer: GdalLayer, field: string): boolean {
  const f = layer.layer.fields.find((x) => x.name === field);
  return f !== undefined && printedShort(f);
}

/** A name of the plan's own for a helper column, clear of every field read. */
function helperName(base: string, taken: ReadonlySet<string>): string {
  let name = base;
  while (taken.has(name)) name = `_${name}`;
  return name;
}

/**
 * Whether a 2D dataset's layer may hold Z values its declared type does not show, which PGDump would drop
 * without a word as it writes each geometry in its layer's dimension: GDAL reads a KML layer as of no
 * particular type, and a GeoPackage's geometries carry their own dimension whatever its metadata says. (A
 * shapefile's shape type, a FlatGeobuf's header and GDAL's scan of a GeoJSON sequence say Z where it is;
 * a layer declared 3D is refused for a 2D dataset before it is read.)
 */
function mayHideZ(layer: GdalLayer): boolean {
  const g = layer.dataset.geometry;
  return (
    g.kind === 'geojson' &&
    g.dimensions === 2 &&
    (layer.dataset.format === 'kml' || layer.dataset.format === 'gpkg') &&
    !layer.layer.geometry.startsWith('3D ')
  );
}

/**
 * How much of a geometry's WKT is asked for to tell its dimension: the first position comes after at most
 * a few type names and parentheses (`GEOMETRYCOLLECTION (MULTIPOLYGON (((`) and three numbers.
 */
const WKT_HEAD = 200;

/** Whether WKT (GDAL's, old-style or ISO, perhaps cut short) has Z: by its `Z` tag, or three numbers a position. */
export function wktHasZ(wkt: string): boolean {
  const tag = /\b(ZM|Z|M)\s*(?:\(|EMPTY)/i.exec(wkt)?.[1]?.toUpperCase();
  if (tag !== undefined) return tag !== 'M';
  const first = /\(\s*([-+.\dnaif][^(),]*)[,)]/i.exec(wkt)?.[1];
  return first !== undefined && first.trim().split(/\s+/).length >= 3;
}

/**
 * The SELECT that reads the fields asked for, each double as its three exact parts, and when Z may hide,
 * the head of each geometry's WKT last; with the header it makes.
 */
function sqlSelect(layer: GdalLayer): { sql: string; header: string[]; halves: number[]; wkt?: number } {
  const geometry = layer.dataset.geometry.kind === 'geojson' ? ['geom'] : [];
  const taken = new Set(layer.fields.map((f) => f.field));
  const items: string[] = [];
  const header = [...geometry];
  const halves: number[] = [];
  layer.fields.forEach(({ field }, i) => {
    const q = ogrSqlName(field);
    if (!needsExact(layer, field)) {
      items.push(q);
      header.push(field);
      return;
    }
    const rest = helperName(`strata_rest_${i}`, taken);
    const low = helperName(`strata_low_${i}`, taken);
    halves.push(header.length);
    header.push(field, rest, low);
    items.push(
      `${q} * 0.5 AS ${q}`,
      `${q} * 0.5 - CAST(CAST(${q} * 0.5 AS character(32)) AS float) AS ${ogrSqlName(rest)}`,
      `${q} - ${q} * 0.5 * 2 AS ${ogrSqlName(low)}`,
    );
  });
  let wkt: number | undefined;
  if (mayHideZ(layer)) {
    const name = helperName('strata_wkt', taken);
    wkt = header.length;
    header.push(name);
    items.push(`SUBSTR(OGR_GEOM_WKT, 1, ${WKT_HEAD}) AS ${ogrSqlName(name)}`);
  }
  return { sql: `SELECT ${items.join(', ')} FROM ${ogrSqlName(layer.layer.name)}`, header, halves, wkt };
}

/**
 * ogr2ogr's arguments to write one layer as a PostgreSQL dump (`COPY ... FROM STDIN` in text format, the
 * geometry as hex EWKB, exact) on stdout, with only the fields asked for, in their order, the geometry
 * labelled with the source SRID (PostGIS transforms it afterwards, far faster than ogr2ogr's -t_srs).
 */
export function readPlan(layer: GdalLayer): ReadPlan {
  const g = layer.dataset.geometry;
  const args = ['--config', 'PG_USE_COPY', 'YES', '-f', 'PGDump', '/vsistdout/', layer.path];
  const viaSql = layer.fields.some((f) => needsExact(layer, f.field)) || mayHideZ(layer);
  const select = viaSql ? sqlSelect(layer) : undefined;
  // Without a double to read exactly or a Z to look for, the layer is read as it is, by name (no SQL).
  if (select) args.push('-dialect', 'OGRSQL', '-sql', select.sql);
  else args.push(layer.layer.name);
  for (const o of layer.openOptions) args.push('-oo', o);
  for (const o of [
    'CREATE_TABLE=OFF',
    'DROP_TABLE=OFF',
    'SPATIAL_INDEX=NONE',
    'GEOMETRY_NAME=geom',
    'LAUNDER=NO',
  ])
    args.push('-lco', o);
  args.push('-nln', 'strata_load', '-unsetFid');
  if (!select) args.push('-select', layer.fields.map((f) => f.field).join(','));
  if (g.kind === 'geojson') {
    args.push('-lco', `SRID=${g.sourceSrid}`);
    // PGDump sets each geometry to its layer's dimension: a layer of no declared type (KML) is 2D, and
    // its Z values would be dropped before PostGIS could keep them.
    if (g.dimensions === 3) args.push('-lco', 'DIM=3');
    if (g.type?.startsWith('Multi')) args.push('-nlt', 'PROMOTE_TO_MULTI');
    // A collection may hold any geometry, and some formats cannot say "collection" of one kind: GDAL reads
    // KML's MultiGeometry of polygons as a MultiPolygon, and its GeoJSONSeq writer writes a collection of
    // one member as that member. A declared GeometryCollection takes each as the collection of its parts.
    if (g.type === 'GeometryCollection')
      args.push('-nlt', `GEOMETRYCOLLECTION${g.dimensions === 3 ? 'Z' : ''}`);
  } else args.push('-nlt', 'NONE');
  const header = select?.header ?? [
    ...(g.kind === 'geojson' ? ['geom'] : []),
    ...layer.fields.map((f) => f.field),
  ];
  return { args, header, halves: select?.halves ?? [], wkt: select?.wkt };
}

/** The COPY text of the double that GDAL's three printed parts (see ReadPlan) add up to. */
export function exactDouble(half: string, rest: string, low: string): string {
  if (half === '\\N') return half;
  const h = Number(half);
  // NaN and the infinities are their own halves; PGDump prints them as PostgreSQL reads them.
  if (!Number.isFinite(h)) return half;
  const r = Number(rest);
  const l = Number(low);
  // Adding a zero would turn -0 into 0.
  const x = (r === 0 ? h : h + r) * 2;
  const exact = l === 0 ? x : x + l;
  return Object.is(exact, -0) ? '-0' : String(exact);
}

/** One row as GDAL wrote it, each double's three parts made the one value they stand for. */
export function joinExact(line: string, halves: readonly number[]): string {
  const cells = line.split('\t');
  for (let k = halves.length - 1; k >= 0; k--) {
    const at = halves[k]!;
    cells.splice(at, 3, exactDouble(cells[at]!, cells[at + 1]!, cells[at + 2]!));
  }
  return cells.join('\t');
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

/** Rewrites in place each raw `byte` escaped in data[from, to) as the letter COPY reads as the same (`\n`, `\t`). */
function spellEscapes(data: Buffer, from: number, to: number, byte: number, letter: number): void {
  for (let i = data.indexOf(byte, from); i !== -1 && i < to; i = data.indexOf(byte, i + 1))
    if (escaped(data, i, from)) data[i] = letter;
}

/** Where the data starts: after the `COPY ... FROM STDIN;` line, checked to name `expected`; -1 before it comes. */
function afterCopyLine(data: Buffer, expected: readonly string[]): number {
  for (let from = 0, i = data.indexOf(NL); i !== -1; from = i + 1, i = data.indexOf(NL, from)) {
    const line = data.toString('utf8', from, i);
    if (!line.startsWith('COPY ')) continue;
    const got = copyColumns(line);
    if (got.join('\u0000') !== expected.join('\u0000'))
      throw new Error(`ogr2ogr wrote columns (${got.join(', ')}), expected (${expected.join(', ')})`);
    return i + 1;
  }
  return -1;
}

/**
 * The whole rows in data from `from` on: where they end, how many, and whether the `\.` that ends the COPY
 * data came. A newline escaped inside a value is spelled `\n` on the way (same length).
 */
function wholeRows(data: Buffer, from: number): { end: number; rows: number; ended: boolean } {
  let end = from;
  let rows = 0;
  for (let i = data.indexOf(NL, from); i !== -1; i = data.indexOf(NL, i + 1)) {
    if (escaped(data, i, end)) {
      data[i] = 0x6e; // "\" + newline becomes "\n"
      continue;
    }
    if (i - end === 2 && data[end] === BACKSLASH && data[end + 1] === 0x2e) return { end, rows, ended: true };
    rows++;
    end = i + 1;
  }
  return { end, rows, ended: false };
}

/** The refusal of a feature whose Z a 2D dataset would lose. */
function hiddenZ(layer: GdalLayer, feature: number): LoadError {
  return new LoadError({
    file: layer.file,
    layer: layer.layer.name,
    feature,
    column: 'geometry',
    reason: `the geometry has Z values, which the layer's type (${layer.layer.geometry}) does not declare and a 2D dataset would lose: declare geometry dimensions: 3 in datasets/${layer.dataset.name}.yaml to keep them`,
  });
}

/**
 * Whole rows as the table takes them, the first being feature `first`: a feature holding a Z that a 2D
 * dataset would lose refused by name, the WKT that told it dropped, each exact double's parts joined.
 */
function tableRows(rows: Buffer, plan: ReadPlan, layer: GdalLayer, first: number): Buffer {
  if (plan.halves.length === 0 && plan.wkt === undefined) return rows;
  const lines = rows.toString('utf8').split('\n');
  // The text ends with a newline: its last piece is empty.
  for (let k = 0; k < lines.length - 1; k++) {
    let line = lines[k]!;
    if (plan.wkt !== undefined) {
      const cut = line.lastIndexOf('\t');
      if (wktHasZ(line.slice(cut + 1))) throw hiddenZ(layer, first + k);
      line = line.slice(0, cut);
    }
    lines[k] = plan.halves.length > 0 ? joinExact(line, plan.halves) : line;
  }
  return Buffer.from(lines.join('\n'));
}

/**
 * Streams a layer's rows as COPY text chunks of about `chunkBytes`, each ending on a row, one row a line:
 * ogr2ogr writes a newline or carriage return inside a value as a backslash and the raw character, which
 * COPY reads but which would split a row over two lines; they are rewritten in place as `\n` and `\r` (same
 * length), so line N of the data is feature N - 1 of the layer, as a refusal reports it (and a tab as `\t`
 * where a row is cut into its values). Ends ogr2ogr when the reader stops early; throws GdalFailedError
 * when ogr2ogr fails.
 */
export async function* gdalRows(layer: GdalLayer, chunkBytes = 4 << 20): AsyncGenerator<CopyChunk> {
  const plan = readPlan(layer);
  const p = await streamGdal(plan.args);
  let state: 'head' | 'data' | 'tail' = 'head';
  let carry: Buffer = Buffer.alloc(0);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let pendingRows = 0;
  let rowsBefore = 0;
  let finished = false;
  try {
    for await (const raw of p.stdout) {
      if (state === 'tail') continue;
      const data: Buffer = carry.length > 0 ? Buffer.concat([carry, raw as Buffer]) : (raw as Buffer);
      let start = 0;
      if (state === 'head') {
        start = afterCopyLine(data, plan.header);
        if (start === -1) {
          carry = data;
          continue;
        }
        state = 'data';
      }
      const { end, rows, ended } = wholeRows(data, start);
      if (ended) state = 'tail';
      spellEscapes(data, start, end, CR, 0x72);
      if (plan.halves.length > 0 || plan.wkt !== undefined) spellEscapes(data, start, end, TAB, 0x74);
      if (end > start) {
        pending.push(tableRows(data.subarray(start, end), plan, layer, rowsBefore));
        pendingBytes += end - start;
        pendingRows += rows;
        rowsBefore += rows;
      }
      carry = state === 'tail' ? Buffer.alloc(0) : data.subarray(end);
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
