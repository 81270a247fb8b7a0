import { runGdal } from '../adapters/gdal/facade.ts';

/** A coordinate reference system as a file declares it. */
export interface FileCrs {
  /** Its name in the file (`OSGB36 / British National Grid`). */
  readonly name: string;
  /** The EPSG code PROJ identifies it with, when it can. */
  readonly epsg?: number;
}

export interface LayerField {
  readonly name: string;
  /** GDAL's field type: Integer, Integer64, Real, String, Date, DateTime, ... */
  readonly type: string;
  /** Set for a Real of single precision (`Real(Float32)`): GDAL prints it as the float it is, digits enough. */
  readonly float32?: true;
}

/**
 * True for a field GDAL prints short of the 17 significant digits a double needs: a Real of double precision
 * (a single-precision one it prints as the float it holds, with the digits that takes).
 */
export function printedShort(field: LayerField): boolean {
  return field.type === 'Real' && !field.float32;
}

export interface LayerInfo {
  readonly name: string;
  /** GDAL's geometry type name (`Point`, `3D Multi Polygon`, `Unknown (any)`), or `None`. */
  readonly geometry: string;
  readonly featureCount?: number;
  readonly crs?: FileCrs;
  readonly fields: readonly LayerField[];
}

export interface SourceInfo {
  /** The GDAL driver that opened the file (`GPKG`, `ESRI Shapefile`, ...). */
  readonly driver: string;
  readonly layers: readonly LayerInfo[];
}

interface WktNode {
  readonly keyword: string;
  readonly args: (string | number | WktNode)[];
}

/** Parses WKT (1 or 2) into keyword nodes; small, because only names and IDs are read from it. */
export function parseWkt(text: string): WktNode | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const node = (): WktNode | undefined => {
    ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i, i + 64));
    if (!m) return undefined;
    i += m[0].length;
    ws();
    const open = text[i];
    if (open !== '[' && open !== '(') return { keyword: m[0].toUpperCase(), args: [] };
    i++;
    const args: (string | number | WktNode)[] = [];
    for (;;) {
      ws();
      const c = text[i];
      if (c === undefined) return undefined;
      if (c === ']' || c === ')') {
        i++;
        return { keyword: m[0].toUpperCase(), args };
      }
      if (c === ',') {
        i++;
        continue;
      }
      if (c === '"') {
        let s = '';
        i++;
        while (i < text.length) {
          if (text[i] === '"' && text[i + 1] === '"') {
            s += '"';
            i += 2;
          } else if (text[i] === '"') {
            i++;
            break;
          } else s += text[i++];
        }
        args.push(s);
        continue;
      }
      const num = /^[-+]?[\d.]+(?:[eE][-+]?\d+)?/.exec(text.slice(i, i + 64));
      if (num) {
        args.push(Number(num[0]));
        i += num[0].length;
        continue;
      }
      const child = node();
      if (!child) return undefined;
      args.push(child);
    }
  };
  return node();
}

/** The CRS's name and EPSG code from WKT, looking through a BOUNDCRS to its source CRS. */
export function crsFromWkt(wkt: string): FileCrs | undefined {
  let root = parseWkt(wkt);
  if (!root) return undefined;
  if (root.keyword === 'BOUNDCRS') {
    const source = root.args.find((a): a is WktNode => typeof a === 'object' && a.keyword === 'SOURCECRS');
    root = source?.args.find((a): a is WktNode => typeof a === 'object');
    if (!root) return undefined;
  }
  const name = typeof root.args[0] === 'string' ? root.args[0] : root.keyword;
  const id = root.args.find(
    (a): a is WktNode =>
      typeof a === 'object' && (a.keyword === 'ID' || a.keyword === 'AUTHORITY') && a.args[0] === 'EPSG',
  );
  const code = id ? Number(id.args[1]) : Number.NaN;
  return Number.isInteger(code) && code > 0 ? { name, epsg: code } : { name };
}

/**
 * A field line. GDAL 3.7 and later print no `(width.precision)` after a date or time (`seen: DateTime`), and
 * GDAL 3.8 prints a time zone there instead when the values share one (`seen: DateTime (+02:00)`).
 */
const FIELD =
  /^(.+): (Integer|Integer64|Real|String|Date|Time|DateTime|Binary|IntegerList|Integer64List|RealList|StringList)(?:\(([A-Za-z0-9]+)\))?(?: \([^()]*\))?(?: NOT NULL)?(?: DEFAULT .*)?$/;

/** Reads `ogrinfo -so -al` output: the driver, and per layer its geometry, count, CRS and fields. */
export function parseOgrinfo(text: string): SourceInfo {
  const driver = /using driver `([^']+)' successful/.exec(text)?.[1] ?? 'unknown';
  const layers: LayerInfo[] = [];
  const blocks = text.split(/^Layer name: /m).slice(1);
  for (const block of blocks) {
    const lines = block.split('\n');
    const name = lines[0]!.replace(/\r$/, '');
    let geometry = 'None';
    let featureCount: number | undefined;
    let crs: FileCrs | undefined;
    const fields: LayerField[] = [];
    for (let k = 1; k < lines.length; k++) {
      const line = lines[k]!.replace(/\r$/, '');
      const geom = /^Geometry(?: \([^)]*\))?: (.*)$/.exec(line);
      const count = /^Feature Count: (-?\d+)$/.exec(line);
      const field = FIELD.exec(line);
      if (geom) {
        if (geometry === 'None') geometry = geom[1]!;
      } else if (count) {
        featureCount = Number(count[1]) >= 0 ? Number(count[1]) : undefined;
      } else if (line === 'Layer SRS WKT:') {
        // The WKT runs over several lines until its brackets close.
        let wkt = '';
        let depth = 0;
        for (k++; k < lines.length; k++) {
          const l = lines[k]!;
          if (wkt === '' && l.trim() === '(unknown)') break;
          wkt += `${l}\n`;
          for (const c of l) depth += c === '[' ? 1 : c === ']' ? -1 : 0;
          if (depth <= 0) break;
        }
        if (wkt) crs = crsFromWkt(wkt);
      } else if (field && !/^(Data axis|FID Column|Geometry Column|Extent)/.test(line)) {
        fields.push({
          name: field[1]!,
          type: field[2]!,
          ...(field[3] === 'Float32' ? { float32: true } : {}),
        });
      }
    }
    layers.push({ name, geometry, featureCount, crs, fields });
  }
  return { driver, layers };
}

/** Asks ogrinfo about every layer of a file: summaries only, no features read (but for formats that must scan). */
export async function describeSource(path: string, openOptions: readonly string[] = []): Promise<SourceInfo> {
  const out = await runGdal('ogrinfo', [
    '-ro',
    '-so',
    '-al',
    '-noextent',
    '-nomd',
    '-wkt_format',
    'WKT2',
    ...openOptions.flatMap((o) => ['-oo', o]),
    path,
  ]);
  return parseOgrinfo(out);
}
