import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, isAbsolute, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { requireGdal } from '../adapters/gdal/facade.ts';
import type { DatasetVersion } from '../archive/archive.ts';
import type { GdalFormat } from '../catalog/formats.ts';
import type { Column, Dataset } from '../catalog/schema.ts';
import { LoadError } from '../errors.ts';
import { GdalFailedError } from '../ports/gdal.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { describeKind, fileKind, HEAD_BYTES, wrongKind } from './file-kind.ts';
import { describeSource, type LayerInfo, printedShort } from './gdal-info.ts';
import { DEFAULT_UNZIP_LIMITS, UnsafeZipError, type UnzipLimits, unzipSafely } from './safe-unzip.ts';
import { sourceName } from './table.ts';

/** A layer ready to be read by ogr2ogr: where it is, which fields feed which columns, in which CRS. */
export interface GdalLayer {
  /** The archived object's key, as a refusal names the file. */
  readonly file: string;
  /** The file GDAL opens (inside the work folder, or the archive's own file when it is on disk). */
  readonly path: string;
  readonly openOptions: readonly string[];
  readonly layer: LayerInfo;
  /** The dataset with `geometry.sourceSrid` set to the CRS the file is read in. */
  readonly dataset: Dataset;
  /** Catalog column ← the layer's field, in the order ogr2ogr is asked for them. */
  readonly fields: readonly { readonly column: Column; readonly field: string }[];
}

interface FormatFacts {
  /** The extension GDAL recognises the format by. */
  readonly ext: string;
  /** Extensions of the files to unpack from a zip. */
  readonly unpack: readonly string[];
  /** Drivers that may open it: anything else means the file is not what the catalog says. */
  readonly drivers: readonly string[];
  readonly label: string;
}

const FORMATS: Record<GdalFormat, FormatFacts> = {
  shapefile: {
    ext: '.shp',
    unpack: ['.shp', '.shx', '.dbf', '.prj', '.cpg'],
    drivers: ['ESRI Shapefile'],
    label: 'shapefile',
  },
  gpkg: { ext: '.gpkg', unpack: ['.gpkg'], drivers: ['GPKG'], label: 'GeoPackage' },
  flatgeobuf: { ext: '.fgb', unpack: ['.fgb'], drivers: ['FlatGeobuf'], label: 'FlatGeobuf file' },
  kml: { ext: '.kml', unpack: ['.kml'], drivers: ['LIBKML', 'KML'], label: 'KML file' },
  geojsonseq: {
    ext: '.geojsonl',
    unpack: ['.geojsonl', '.geojsons', '.geojsonseq', '.ndjson', '.jsonl'],
    // A sequence of one feature is a GeoJSON document too: GDAL opens it with its GeoJSON driver, which
    // reads the same feature.
    drivers: ['GeoJSONSeq', 'GeoJSON'],
    label: 'GeoJSON sequence',
  },
};

const ZIP_MAGIC = [Buffer.from('PK\x03\x04'), Buffer.from('PK\x05\x06')];
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0');

async function firstBytes(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The archived object as a file on this machine: the archive's own file locally, a download otherwise. */
async function localCopy(store: ObjectStore, version: DatasetVersion, workDir: string): Promise<string> {
  const at = store.locate('archive', version.key);
  if (isAbsolute(at) && (await stat(at).catch(() => undefined))?.isFile()) return at;
  const path = join(workDir, 'download');
  await pipeline(await store.get('archive', version.key), createWriteStream(path, { flags: 'wx' }));
  return path;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out.sort();
}

/** Zip entries worth unpacking: the format's files, without the `__MACOSX/` and `._name` shadows Finder adds. */
function unpackable(facts: FormatFacts) {
  return (name: string) =>
    !name.split('/').includes('__MACOSX') &&
    !basename(name).startsWith('._') &&
    facts.unpack.includes(extname(name).toLowerCase());
}

const stem = (path: string) => basename(path, extname(path));

/** How a refusal of the file is made: its key, and the layer when one is named. */
type Refuse = (reason: string, extra?: { layer?: string }) => LoadError;

/** GDAL knows some formats by their extension: the file is linked into the work folder under the one it expects. */
async function linkedAs(file: string, facts: FormatFacts, workDir: string): Promise<string> {
  const linked = join(workDir, `source${facts.ext}`);
  await symlink(file, linked);
  return linked;
}

/** The format's main file among those unpacked: the shapefile `gdal.layer` names, or the only one there is. */
function mainFile(dataset: Dataset, files: readonly string[], refuse: Refuse): string {
  const format = dataset.format as GdalFormat;
  const facts = FORMATS[format];
  const mains = format === 'geojsonseq' ? facts.unpack : [facts.ext];
  const candidates = files.filter((f) => mains.includes(extname(f).toLowerCase()));
  const wantedLayer = dataset.gdal?.layer;
  if (format === 'shapefile' && wantedLayer !== undefined) {
    const chosen =
      candidates.find((f) => stem(f) === wantedLayer) ??
      candidates.find((f) => stem(f).toLowerCase() === wantedLayer.toLowerCase());
    if (!chosen)
      throw refuse(
        `the zip holds no shapefile named "${wantedLayer}"${candidates.length ? `; it holds ${candidates.map((f) => `"${stem(f)}"`).join(', ')}` : ''}`,
        { layer: wantedLayer },
      );
    return chosen;
  }
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0)
    throw refuse(`the zip holds no ${facts.label} (no ${facts.unpack.join(' / ')} file)`);
  throw refuse(
    `the zip holds ${candidates.length} ${facts.label}s (${candidates.map((f) => `"${basename(f)}"`).join(', ')}): ${
      format === 'shapefile' ? 'name the one to load with `gdal.layer`' : 'send one at a time'
    } (datasets/${dataset.name}.yaml)`,
  );
}

/** A shapefile needs its .shx and .dbf beside the .shp, with the same stem. */
function checkShapefileParts(file: string, files: readonly string[], refuse: Refuse): void {
  const siblings = new Set(
    files
      .filter((f) => dirname(f) === dirname(file) && stem(f) === stem(file))
      .map((f) => extname(f).toLowerCase()),
  );
  const missing = ['.shx', '.dbf'].filter((x) => !siblings.has(x));
  if (missing.length > 0)
    throw refuse(
      `the shapefile "${basename(file)}" is incomplete: its ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing from the zip (a shapefile needs .shp, .shx and .dbf)`,
      { layer: stem(file) },
    );
}

/** The file to read out of a zip: unpacked safely into the work folder, picked, checked. */
async function fromZip(
  dataset: Dataset,
  zipFile: string,
  workDir: string,
  limits: UnzipLimits,
  refuse: Refuse,
): Promise<string> {
  const format = dataset.format as GdalFormat;
  const facts = FORMATS[format];
  const unzipped = join(workDir, 'unzipped');
  await mkdir(unzipped);
  try {
    await unzipSafely(zipFile, unzipped, unpackable(facts), limits);
  } catch (e) {
    if (e instanceof UnsafeZipError) throw refuse(`the zip archive is refused: ${e.message}`);
    throw e;
  }
  const files = await filesUnder(unzipped);
  const file = mainFile(dataset, files, refuse);
  if (format === 'shapefile') checkShapefileParts(file, files, refuse);
  if (format === 'gpkg' && !(await firstBytes(file, 16)).equals(SQLITE_MAGIC))
    throw refuse(`not a GeoPackage: "${basename(file)}" in the zip is not an SQLite database`);
  return extname(file).toLowerCase() !== facts.ext ? linkedAs(file, facts, workDir) : file;
}

/**
 * Finds the file to read: the archived file itself, or the one in its zip (a shapefile always comes
 * zipped, with its .shx and .dbf beside the .shp). Refuses what cannot be read, saying why.
 */
async function sourceFile(
  store: ObjectStore,
  dataset: Dataset,
  version: DatasetVersion,
  workDir: string,
  limits: UnzipLimits,
): Promise<string> {
  const format = dataset.format as GdalFormat;
  const refuse: Refuse = (reason, extra = {}) => new LoadError({ file: version.key, ...extra, reason });
  const local = await localCopy(store, version, workDir);
  const head = await firstBytes(local, HEAD_BYTES);
  const wrong = wrongKind(dataset, head);
  if (wrong) throw refuse(wrong);
  if (ZIP_MAGIC.some((m) => head.subarray(0, 4).equals(m)))
    return fromZip(dataset, local, workDir, limits, refuse);
  const isWhat = () => ` (this is ${describeKind(fileKind(head))})`;
  if (format === 'shapefile')
    throw refuse(
      `a shapefile must come as a .zip holding its .shp, .shx and .dbf (and .prj, .cpg)${isWhat()}`,
    );
  if (format === 'gpkg' && !head.subarray(0, 16).equals(SQLITE_MAGIC))
    throw refuse(`not a GeoPackage: a GeoPackage is an SQLite database, and this file is not one${isWhat()}`);
  return linkedAs(local, FORMATS[format], workDir);
}

/** The field each column is read from: its source name, or failing that the one field that matches it ignoring case. */
function mapFields(dataset: Dataset, version: DatasetVersion, layer: LayerInfo): GdalLayer['fields'] {
  return dataset.columns.map((column) => {
    const want = sourceName(column);
    const exact = layer.fields.find((f) => f.name === want);
    const loose = layer.fields.filter((f) => f.name.toLowerCase() === want.toLowerCase());
    const field = exact ?? (loose.length === 1 ? loose[0] : undefined);
    if (!field)
      throw new LoadError({
        file: version.key,
        layer: layer.name,
        column: want,
        reason: `the layer has no field "${want}" (its fields: ${layer.fields.map((f) => f.name).join(', ') || 'none'})`,
      });
    return { column, field: field.name };
  });
}

/**
 * The EPSG code the file is read in. A file that says its CRS is read in it, and must agree with a
 * declared `sourceSrid`; a file that says none takes the declared one; `gdal.overrideSrid` takes the
 * declared one whatever the file says. Anything else is refused, naming both.
 */
export function resolveSourceSrid(
  dataset: Dataset,
  version: DatasetVersion,
  layer: LayerInfo,
): number | undefined {
  const g = dataset.geometry;
  if (g.kind !== 'geojson') return undefined;
  const declared = g.sourceSrid;
  const file = layer.crs;
  const where = `datasets/${dataset.name}.yaml`;
  const refuse = (reason: string) => new LoadError({ file: version.key, layer: layer.name, reason });
  if (dataset.gdal?.overrideSrid && declared !== undefined) return declared;
  if (!file) {
    if (declared !== undefined) return declared;
    throw refuse(
      `the file says no CRS${dataset.format === 'shapefile' ? ' (no .prj in the zip)' : ''} and ${where} declares none: set geometry.sourceSrid to the EPSG code its coordinates are in`,
    );
  }
  if (file.epsg === undefined)
    throw refuse(
      declared !== undefined
        ? `the file's CRS "${file.name}" has no EPSG code PROJ recognises, so it cannot be checked against EPSG:${declared} declared in ${where}; if it is EPSG:${declared}, set gdal.overrideSrid: true`
        : `the file's CRS "${file.name}" has no EPSG code PROJ recognises: set geometry.sourceSrid to the one it is, with gdal.overrideSrid: true, in ${where}`,
    );
  if (declared !== undefined && declared !== file.epsg)
    throw refuse(
      `the file's CRS is EPSG:${file.epsg} (${file.name}) but ${where} declares EPSG:${declared}: it is refused rather than read in the wrong CRS; correct geometry.sourceSrid, or set gdal.overrideSrid: true to read it as EPSG:${declared}`,
    );
  return file.epsg;
}

/**
 * A layer with a double to read exactly is read through GDAL's SQL (gdal-rows.ts), which has no spelling for
 * a name that ends with a backslash (it would escape its own closing quote).
 */
function checkNames(version: DatasetVersion, layer: LayerInfo, fields: GdalLayer['fields']): void {
  const exact = fields.some((f) => layer.fields.some((x) => x.name === f.field && printedShort(x)));
  const name = exact ? [layer.name, ...fields.map((f) => f.field)].find((n) => n.endsWith('\\')) : undefined;
  if (name !== undefined)
    throw new LoadError({
      file: version.key,
      layer: layer.name,
      reason: `the name "${name}" ends with a backslash, which GDAL's SQL cannot quote, and the layer's doubles are read through it to keep every digit: rename it in the file`,
    });
}

function checkGeometry(dataset: Dataset, version: DatasetVersion, layer: LayerInfo): void {
  const g = dataset.geometry;
  if (g.kind !== 'geojson') return;
  const refuse = (reason: string) =>
    new LoadError({ file: version.key, layer: layer.name, column: 'geometry', reason });
  if (layer.geometry === 'None')
    throw refuse(
      `the layer has no geometry: declare geometry kind "none" in datasets/${dataset.name}.yaml to load its fields only`,
    );
  const z = layer.geometry.startsWith('3D ');
  if (z && g.dimensions === 2)
    throw refuse(
      `the layer's geometry has Z values (${layer.geometry}): declare geometry dimensions: 3 to keep them`,
    );
  if (!z && g.dimensions === 3 && !layer.geometry.startsWith('Unknown'))
    throw refuse(
      `the layer's geometry has no Z values (${layer.geometry}) but the catalog declares dimensions: 3`,
    );
}

/**
 * Opens the layer an archived version holds, in a work folder of its own: checks the file (zip, magic
 * bytes, driver), picks the layer, maps the fields and resolves the CRS, then runs `fn`. The work folder is
 * removed afterwards, whatever happens.
 */
export async function withGdalLayer<T>(
  store: ObjectStore,
  dataset: Dataset,
  version: DatasetVersion,
  options: { tmpDir?: string; unzip?: UnzipLimits },
  fn: (layer: GdalLayer) => Promise<T>,
): Promise<T> {
  await requireGdal();
  const workDir = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'strata-gdal-'));
  try {
    const format = dataset.format as GdalFormat;
    const path = await sourceFile(store, dataset, version, workDir, options.unzip ?? DEFAULT_UNZIP_LIMITS);
    const openOptions = [
      ...(format === 'gpkg' ? ['IMMUTABLE=YES'] : []),
      ...(dataset.gdal?.encoding ? [`ENCODING=${dataset.gdal.encoding}`] : []),
    ];
    const facts = FORMATS[format];
    const info = await describeSource(path, openOptions).catch((e: unknown) => {
      if (e instanceof GdalFailedError)
        throw new LoadError({
          file: version.key,
          reason: `GDAL cannot read it as a ${facts.label}: ${e.errors.join('; ') || e.message}`,
        });
      throw e;
    });
    if (!facts.drivers.includes(info.driver))
      throw new LoadError({
        file: version.key,
        reason: `not a ${facts.label}: GDAL reads it as ${info.driver}`,
      });
    const layer = pickLayer(dataset, version, info.layers);
    checkGeometry(dataset, version, layer);
    const fields = mapFields(dataset, version, layer);
    const srid = resolveSourceSrid(dataset, version, layer);
    const geometry =
      dataset.geometry.kind === 'geojson' ? { ...dataset.geometry, sourceSrid: srid } : dataset.geometry;
    checkNames(version, layer, fields);
    return await fn({
      file: version.key,
      path,
      openOptions,
      layer,
      dataset: { ...dataset, geometry },
      fields,
    });
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

function pickLayer(dataset: Dataset, version: DatasetVersion, layers: readonly LayerInfo[]): LayerInfo {
  const wanted = dataset.format === 'shapefile' ? undefined : dataset.gdal?.layer;
  const names = layers.map((l) => `"${l.name}"`).join(', ');
  if (wanted !== undefined) {
    const layer =
      layers.find((l) => l.name === wanted) ??
      layers.find((l) => l.name.toLowerCase() === wanted.toLowerCase());
    if (!layer)
      throw new LoadError({
        file: version.key,
        layer: wanted,
        reason: `the file has no layer "${wanted}"; its layers: ${names || 'none'}`,
      });
    return layer;
  }
  if (layers.length === 1) return layers[0]!;
  if (layers.length === 0) throw new LoadError({ file: version.key, reason: 'the file holds no layer' });
  throw new LoadError({
    file: version.key,
    reason: `the file holds ${layers.length} layers (${names}): name the one to load with gdal.layer in datasets/${dataset.name}.yaml`,
  });
}
