import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yazl from 'yazl';
import { runGdal } from '../../runtime/adapters/gdal/facade.ts';

const run = promisify(execFile);

/**
 * Runs a GDAL program as a user would (fixtures are made by GDAL from GeoJSON, never by hand): the system's,
 * or on a machine without it the embedded one Strata would use there.
 */
export async function gdal(tool: 'ogr2ogr' | 'ogrinfo', args: string[]): Promise<string> {
  try {
    const { stdout } = await run(tool, args, { maxBuffer: 64 << 20, env: { ...process.env, LC_ALL: 'C' } });
    return stdout;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return runGdal(tool, args);
  }
}

export interface Feature {
  readonly properties: Record<string, unknown>;
  readonly geometry: { type: string; coordinates: unknown } | null;
}

/** A GeoJSON FeatureCollection on disk; coordinates as given (a CRS other than WGS84 is set with -a_srs). */
export async function geojsonFile(dir: string, name: string, features: readonly Feature[]): Promise<string> {
  const path = join(dir, `${name}.geojson`);
  await writeFile(
    path,
    JSON.stringify({ type: 'FeatureCollection', features: features.map((f) => ({ type: 'Feature', ...f })) }),
  );
  return path;
}

/** Converts GeoJSON with ogr2ogr into `out` (driver by name), labelled with `srs` when given. */
export async function convert(
  source: string,
  out: string,
  driver: string,
  options: { srs?: string; layer?: string; append?: boolean; extra?: string[] } = {},
): Promise<string> {
  await gdal('ogr2ogr', [
    '-f',
    driver,
    ...(options.append ? ['-update', '-append'] : []),
    out,
    source,
    ...(options.srs ? ['-a_srs', options.srs] : []),
    ...(options.layer ? ['-nln', options.layer] : []),
    ...(options.extra ?? []),
  ]);
  return out;
}

export interface ZipEntry {
  readonly name: string;
  readonly data: Buffer;
  /** Unix mode, e.g. 0o120777 for a symbolic link. */
  readonly mode?: number;
}

/** A zip in memory, made by yazl (which refuses to write hostile names: see `renameInZip`). */
export async function zipOf(entries: readonly ZipEntry[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) zip.addBuffer(e.data, e.name, e.mode !== undefined ? { mode: e.mode } : {});
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Rewrites an entry name of the same length in a zip's local header and central directory: how a test
 * gets `../x` or `/x` into an archive that no well-behaved zip writer will make.
 */
export function renameInZip(zip: Buffer, from: string, to: string): Buffer {
  if (from.length !== to.length) throw new Error('names must be the same length');
  const out = Buffer.from(zip);
  const needle = Buffer.from(from);
  let found = 0;
  for (let i = out.indexOf(needle); i !== -1; i = out.indexOf(needle, i + 1)) {
    out.write(to, i);
    found++;
  }
  if (found < 2) throw new Error(`"${from}" found ${found} times in the zip`);
  return out;
}

/** Makes a zip's central directory lie about an entry's uncompressed size, as a bomb's header would. */
export function declareSize(zip: Buffer, name: string, size: number): Buffer {
  const out = Buffer.from(zip);
  for (let i = 0; i + 46 <= out.length; i++) {
    if (out.readUInt32LE(i) !== 0x02014b50) continue;
    const nameLength = out.readUInt16LE(i + 28);
    if (out.toString('utf8', i + 46, i + 46 + nameLength) !== name) continue;
    out.writeUInt32LE(size, i + 24);
    return out;
  }
  throw new Error(`no central directory entry for ${name}`);
}

/** A shapefile made by ogr2ogr from GeoJSON, zipped with the parts asked for (all by default). */
export async function shapefileZip(
  source: string,
  options: {
    srs?: string;
    name?: string;
    /** Extensions to leave out of the zip (`.shx`, `.dbf`, `.prj`, `.cpg`). */
    omit?: string[];
    /** The .dbf's encoding, written in its .cpg (GDAL recodes from UTF-8). */
    encoding?: string;
    /** Extra entries, e.g. a second shapefile's parts. */
    extra?: ZipEntry[];
    folder?: string;
  } = {},
): Promise<Buffer> {
  const work = await mkdtemp(join(source, '..', 'shp-'));
  try {
    const name = options.name ?? 'layer';
    await convert(source, join(work, `${name}.shp`), 'ESRI Shapefile', {
      srs: options.srs,
      extra: options.encoding ? ['-lco', `ENCODING=${options.encoding}`] : [],
    });
    const entries: ZipEntry[] = [];
    for (const f of (await readdir(work)).sort()) {
      if (options.omit?.some((x) => f.toLowerCase().endsWith(x))) continue;
      entries.push({ name: `${options.folder ?? ''}${f}`, data: await readFile(join(work, f)) });
    }
    return zipOf([...entries, ...(options.extra ?? [])]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface LayerSummary {
  readonly driver: string;
  readonly layers: { name: string; count: number; fields: string[] }[];
}

/** What ogrinfo sees in a file: each layer's feature count and field names (the round-trip check). */
export async function ogrSummary(path: string): Promise<LayerSummary> {
  const out = await gdal('ogrinfo', ['-ro', '-so', '-al', '-nomd', path]);
  const driver = /using driver `([^']+)'/.exec(out)?.[1] ?? '';
  const layers = out
    .split(/^Layer name: /m)
    .slice(1)
    .map((block) => {
      const lines = block.split('\n');
      const count = Number(/^Feature Count: (\d+)$/m.exec(block)?.[1]);
      const fields = lines
        .map(
          (l) =>
            // GDAL 3.7 and later print no (width.precision) after a date or time.
            /^([^:]+): (?:Integer|Integer64|Real|String|Date|Time|DateTime|Binary)(?:\([A-Za-z]+\))?(?: \([^()]*\)|$)/.exec(
              l,
            )?.[1],
        )
        .filter((x): x is string => x !== undefined);
      return { name: lines[0]!.trim(), count, fields };
    });
  return { driver, layers };
}
