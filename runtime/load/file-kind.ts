/**
 * What a file is, from its first bytes, so that a file of the wrong kind is refused by saying what it is
 * ("this is a zip archive; dataset sites takes CSV") rather than by what a reader of another format makes of
 * its bytes (`column "PK\u0003\u0004" is not declared`). Pure: bytes in, a kind out.
 */

export type FileKind =
  | 'zip'
  | 'office'
  | 'opendocument'
  | 'ole2'
  | 'sqlite'
  | 'geopackage'
  | 'flatgeobuf'
  | 'shp'
  | 'gzip'
  | 'pdf'
  | 'parquet'
  | 'png'
  | 'jpeg'
  | 'json'
  | 'xml'
  | 'utf16'
  | 'text'
  | 'binary';

/** Enough of a file to tell its kind: an Office zip's first entry name, the GeoPackage id at byte 68. */
export const HEAD_BYTES = 4096;

const starts = (head: Buffer, magic: readonly number[] | string, at = 0): boolean => {
  const bytes = typeof magic === 'string' ? Buffer.from(magic, 'latin1') : Buffer.from(magic);
  return head.length >= at + bytes.length && head.subarray(at, at + bytes.length).equals(bytes);
};

/** A zip's first entry: its name, and the first bytes of its data when stored uncompressed. */
function firstZipEntry(head: Buffer): { name: string; stored: Buffer } | undefined {
  if (!starts(head, 'PK\x03\x04') || head.length < 30) return undefined;
  const method = head.readUInt16LE(8);
  const nameLength = head.readUInt16LE(26);
  const extraLength = head.readUInt16LE(28);
  const name = head.toString('latin1', 30, Math.min(head.length, 30 + nameLength));
  const data = 30 + nameLength + extraLength;
  return { name, stored: method === 0 ? head.subarray(data, data + 80) : Buffer.alloc(0) };
}

/** The first byte that is not white space (nor a UTF-8 byte order mark), or -1. */
function firstSignificant(head: Buffer): number {
  let i = starts(head, [0xef, 0xbb, 0xbf]) ? 3 : 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0a || head[i] === 0x0d))
    i++;
  return i < head.length ? i : -1;
}

function looksLikeJson(head: Buffer, i: number): boolean {
  const c = head[i];
  if (c !== 0x7b && c !== 0x5b) return false;
  // `{` then a key or `}`; `[` then a value that opens, a string or a number: a CSV header rarely does.
  const j = firstSignificant(head.subarray(i + 1));
  if (j === -1) return true;
  const next = head[i + 1 + j]!;
  return c === 0x7b
    ? next === 0x22 || next === 0x7d
    : next === 0x7b ||
        next === 0x5b ||
        next === 0x22 ||
        next === 0x5d ||
        (next >= 0x30 && next <= 0x39) ||
        next === 0x2d;
}

/** Control bytes other than tab, newline, carriage return and form feed: what text files never hold. */
function isBinary(head: Buffer): boolean {
  for (const c of head)
    if (c === 0 || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c)) return true;
  return false;
}

/** The kind of a file from its first bytes (`HEAD_BYTES` of them, or all of a shorter file). */
export function fileKind(head: Buffer): FileKind {
  if (starts(head, 'PK\x03\x04') || starts(head, 'PK\x05\x06') || starts(head, 'PK\x07\x08')) {
    const entry = firstZipEntry(head);
    if (entry?.name === '[Content_Types].xml') return 'office';
    if (
      entry?.name === 'mimetype' &&
      entry.stored.toString('latin1').startsWith('application/vnd.oasis.opendocument')
    )
      return 'opendocument';
    return 'zip';
  }
  if (starts(head, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) return 'ole2';
  if (starts(head, 'SQLite format 3\0')) {
    // GeoPackage 1.0 wrote "GP10"/"GP11" as its application id; 1.2 on write "GPKG".
    const id = head.length >= 72 ? head.toString('latin1', 68, 72) : '';
    return id === 'GPKG' || id === 'GP10' || id === 'GP11' ? 'geopackage' : 'sqlite';
  }
  if (starts(head, 'fgb') && starts(head, 'fgb', 4)) return 'flatgeobuf';
  // A shapefile's main file: file code 9994, big-endian.
  if (starts(head, [0x00, 0x00, 0x27, 0x0a])) return 'shp';
  if (starts(head, [0x1f, 0x8b])) return 'gzip';
  if (starts(head, '%PDF-')) return 'pdf';
  if (starts(head, 'PAR1')) return 'parquet';
  if (starts(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (starts(head, [0xff, 0xd8, 0xff])) return 'jpeg';
  const i = firstSignificant(head);
  if (i !== -1 && looksLikeJson(head, i)) return 'json';
  // Only what announces itself as XML: a CSV header may well begin "<id>".
  if (i !== -1 && /^<(\?xml|!DOCTYPE|kml[\s>]|gpx[\s>]|html[\s>])/i.test(head.toString('latin1', i, i + 16)))
    return 'xml';
  if (starts(head, [0xff, 0xfe]) || starts(head, [0xfe, 0xff])) return 'utf16';
  return isBinary(head) ? 'binary' : 'text';
}

/** "a zip archive": the kind as a sentence names it. */
export function describeKind(kind: FileKind): string {
  switch (kind) {
    case 'zip':
      return 'a zip archive';
    case 'office':
      return 'an Office document (Excel, Word or PowerPoint: a zip of XML)';
    case 'opendocument':
      return 'an OpenDocument file (LibreOffice)';
    case 'ole2':
      return 'an older Office document (.xls, .doc)';
    case 'sqlite':
      return 'an SQLite database';
    case 'geopackage':
      return 'a GeoPackage';
    case 'flatgeobuf':
      return 'a FlatGeobuf file';
    case 'shp':
      return "a shapefile's .shp on its own";
    case 'gzip':
      return 'a gzip-compressed file';
    case 'pdf':
      return 'a PDF document';
    case 'parquet':
      return 'a Parquet file';
    case 'png':
      return 'a PNG image';
    case 'jpeg':
      return 'a JPEG image';
    case 'json':
      return 'JSON';
    case 'xml':
      return 'XML';
    case 'utf16':
      return 'UTF-16 text (save it as UTF-8)';
    case 'text':
      return 'text';
    default:
      return 'binary data';
  }
}

/** What each format of the catalog takes, as a sentence says it. */
const TAKES: Record<string, string> = {
  csv: 'CSV',
  geojson: 'GeoJSON',
  gpkg: 'a GeoPackage',
  shapefile: 'a zipped shapefile (.shp, .shx and .dbf in a .zip)',
  flatgeobuf: 'FlatGeobuf',
  kml: 'KML',
  geojsonseq: 'GeoJSON sequences (one feature a line)',
};

/**
 * The kinds that are certainly not a format: CSV is any text but JSON or XML; GeoJSON is JSON. Formats read
 * through GDAL also come zipped, and GDAL's own driver check tells KML from FlatGeobuf, so for them only
 * what no GDAL vector driver reads (documents, images, compressed or columnar files) is refused here.
 */
const NEVER_DATA: readonly FileKind[] = [
  'office',
  'opendocument',
  'ole2',
  'gzip',
  'pdf',
  'parquet',
  'png',
  'jpeg',
];

function isWrongKind(format: string, kind: FileKind): boolean {
  if (format === 'csv') return kind !== 'text';
  if (format === 'geojson') return kind !== 'json' && kind !== 'text';
  return NEVER_DATA.includes(kind);
}

/**
 * The sentence that refuses a file of the wrong kind for a dataset's format, or undefined when its kind
 * may be the format ("this is a zip archive; dataset \"sites\" takes CSV").
 */
export function wrongKind(dataset: { name: string; format: string }, head: Buffer): string | undefined {
  if (head.length === 0) return undefined;
  const kind = fileKind(head);
  if (!isWrongKind(dataset.format, kind)) return undefined;
  return `this is ${describeKind(kind)}; dataset "${dataset.name}" takes ${TAKES[dataset.format] ?? dataset.format}`;
}
