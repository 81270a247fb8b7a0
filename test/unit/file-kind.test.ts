import { describe, expect, it } from 'vitest';
import { type FileKind, fileKind, wrongKind } from '../../runtime/load/file-kind.ts';
import { zipOf } from '../helpers/gdal.ts';

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

/** An SQLite header (100 bytes) with `id` as its application id at byte 68, as GDAL writes a GeoPackage. */
function sqliteHeader(id: string): Buffer {
  const h = Buffer.alloc(100);
  h.write('SQLite format 3\0', 0, 'latin1');
  h.write(id, 68, 'latin1');
  return h;
}

describe('what a file is, from its first bytes', () => {
  it.each<[string, () => Promise<Buffer> | Buffer, FileKind]>([
    ['a zip', () => zipOf([{ name: 'towns.shp', data: Buffer.from('x') }]), 'zip'],
    ['an empty zip', () => bytes('PK\x05\x06', new Array(18).fill(0)), 'zip'],
    [
      'an Excel workbook (a zip whose first entry is [Content_Types].xml)',
      () => zipOf([{ name: '[Content_Types].xml', data: Buffer.from('<Types/>') }]),
      'office',
    ],
    [
      'an old .xls (OLE2 compound file)',
      () => bytes([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1], 'rest'),
      'ole2',
    ],
    ['a GeoPackage', () => sqliteHeader('GPKG'), 'geopackage'],
    ['a GeoPackage 1.0', () => sqliteHeader('GP10'), 'geopackage'],
    ['an SQLite database', () => sqliteHeader('\0\0\0\0'), 'sqlite'],
    ['a FlatGeobuf file', () => bytes('fgb', [3], 'fgb', [1], 'header'), 'flatgeobuf'],
    ["a shapefile's .shp", () => bytes([0, 0, 0x27, 0x0a, 0, 0]), 'shp'],
    ['a gzip', () => bytes([0x1f, 0x8b, 8, 0]), 'gzip'],
    ['a PDF', () => bytes('%PDF-1.7\n'), 'pdf'],
    ['a Parquet file', () => bytes('PAR1', [0x15, 0]), 'parquet'],
    ['a PNG', () => bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), 'png'],
    ['a JPEG', () => bytes([0xff, 0xd8, 0xff, 0xe0]), 'jpeg'],
    [
      'a GeoJSON object after a byte order mark',
      () => bytes([0xef, 0xbb, 0xbf], '  {"type": "FeatureCollection"}'),
      'json',
    ],
    ['a JSON array', () => bytes('[{"a": 1}]'), 'json'],
    ['KML', () => bytes('<?xml version="1.0"?><kml>'), 'xml'],
    ['UTF-16 text', () => bytes([0xff, 0xfe], 'i\0d\0'), 'utf16'],
    ['a CSV', () => bytes('id,name\n1,Leeds\n'), 'text'],
    ['a CSV in Latin-1', () => bytes('id,name\n1,Caf', [0xe9], '\n'), 'text'],
    ['a CSV whose header starts with a bracket', () => bytes('[id],name\n1,x\n'), 'text'],
    ['a CSV whose header looks like a tag', () => bytes('<id>,name\n1,x\n'), 'text'],
    ['other binary data', () => bytes([0x00, 0x01, 0x02, 0x03]), 'binary'],
  ])('%s', async (_, make, kind) => {
    expect(fileKind(await make())).toBe(kind);
  });

  it('refuses a mismatch with a sentence naming both', async () => {
    const zip = await zipOf([{ name: 'a.csv', data: Buffer.from('id\n1\n') }]);
    expect(wrongKind({ name: 'sites', format: 'csv' }, zip)).toBe(
      'this is a zip archive; dataset "sites" takes CSV',
    );
    expect(wrongKind({ name: 'areas', format: 'geojson' }, bytes('%PDF-1.4'))).toBe(
      'this is a PDF document; dataset "areas" takes GeoJSON',
    );
    expect(wrongKind({ name: 'sites', format: 'csv' }, bytes('{"type":"Feature"}'))).toMatch(
      /^this is JSON; dataset "sites" takes CSV$/,
    );
    expect(wrongKind({ name: 'parcels', format: 'gpkg' }, sqliteHeader('GPKG'))).toBeUndefined();
    expect(wrongKind({ name: 'parcels', format: 'shapefile' }, zip)).toBeUndefined();
    expect(wrongKind({ name: 'parcels', format: 'shapefile' }, bytes('PAR1'))).toMatch(
      /^this is a Parquet file; dataset "parcels" takes a zipped shapefile/,
    );
    expect(wrongKind({ name: 'sites', format: 'csv' }, bytes('id,name\n'))).toBeUndefined();
    expect(wrongKind({ name: 'areas', format: 'geojson' }, bytes('{"type":'))).toBeUndefined();
  });
});
