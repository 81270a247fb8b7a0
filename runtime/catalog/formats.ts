import { z } from 'zod';

/** Formats read through GDAL (ogr2ogr): everything but CSV and GeoJSON, which Strata reads itself. */
export const GDAL_FORMATS = ['shapefile', 'gpkg', 'flatgeobuf', 'kml', 'geojsonseq'] as const;
export type GdalFormat = (typeof GDAL_FORMATS)[number];
export const isGdalFormat = (format: string): format is GdalFormat =>
  (GDAL_FORMATS as readonly string[]).includes(format);

/** Formats whose file holds one layer only: naming one cannot work. */
const SINGLE_LAYER: readonly string[] = ['flatgeobuf', 'geojsonseq'];

/** How a dataset read through GDAL is read: which layer, in which encoding, and whose CRS wins. */
export const GdalOptions = z.strictObject({
  /** The layer to read: a GeoPackage table, a KML folder, a shapefile's name in its zip. Default: the only one. */
  layer: z.string().min(1).optional(),
  /** Encoding of a shapefile's .dbf when it has no .cpg beside it (CP1252, ISO-8859-1, ...). */
  encoding: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be an encoding name such as CP1252 or ISO-8859-1')
    .optional(),
  /**
   * Take `geometry.sourceSrid` as the file's CRS whatever the file says (a .prj PROJ cannot name, or one
   * known to be wrong). Without it, a file whose CRS differs from `sourceSrid` is refused.
   */
  overrideSrid: z.boolean().default(false),
});
export type GdalOptions = z.infer<typeof GdalOptions>;

/** What the format rules need of a dataset: kept structural so this module does not import the schema. */
interface FormatFields {
  readonly format: string;
  readonly geometry: { readonly kind: string; readonly sourceSrid?: number };
  readonly gdal?: GdalOptions;
}

/** Options that cannot work with the dataset's format, as catalog issues (before any file arrives). */
export function checkDatasetFormat(d: FormatFields, ctx: z.RefinementCtx): void {
  const g = d.geometry;
  if (!isGdalFormat(d.format)) {
    if (d.gdal)
      ctx.addIssue({
        code: 'custom',
        path: ['gdal'],
        message: `\`gdal\` options apply only to formats read through GDAL (${GDAL_FORMATS.join(', ')}), not ${d.format}`,
      });
    return;
  }
  if (g.kind !== 'geojson' && g.kind !== 'none')
    ctx.addIssue({
      code: 'custom',
      path: ['geometry', 'kind'],
      message: `a ${d.format} dataset takes geometry kind "geojson" (the features' own geometry) or "none"`,
    });
  if (d.gdal?.layer !== undefined && SINGLE_LAYER.includes(d.format))
    ctx.addIssue({
      code: 'custom',
      path: ['gdal', 'layer'],
      message: `a ${d.format} file holds one layer only: remove \`gdal.layer\``,
    });
  if (d.gdal?.encoding !== undefined && d.format !== 'shapefile')
    ctx.addIssue({
      code: 'custom',
      path: ['gdal', 'encoding'],
      message: `\`gdal.encoding\` applies to shapefiles only (${d.format} files say their own encoding)`,
    });
  if (d.gdal?.overrideSrid && g.sourceSrid === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['gdal', 'overrideSrid'],
      message: "`gdal.overrideSrid` needs `geometry.sourceSrid`: the CRS to take instead of the file's",
    });
}

/** Each format at most once per output: the problems, with their path inside the output. */
export function outputFormatIssues(
  formats: readonly string[] | undefined,
): { path: (string | number)[]; message: string }[] {
  const seen = new Set<string>();
  const out: { path: (string | number)[]; message: string }[] = [];
  formats?.forEach((f, i) => {
    if (seen.has(f)) out.push({ path: ['formats', i], message: `format "${f}" is listed twice` });
    seen.add(f);
  });
  return out;
}
