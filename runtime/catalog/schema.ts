import { z } from 'zod';
import { contractFields, contractIssues } from './contract.ts';
import { checkDatasetFormat, GdalOptions, outputFormatIssues } from './formats.ts';

/** Names become SQL identifiers and object keys, so they stay plain. */
const NAME = /^[a-z][a-z0-9_]*$/;
export const Name = z
  .string()
  .max(30, 'must be at most 30 characters')
  .regex(NAME, 'must start with a lowercase letter and use only a-z, 0-9 and _');

export const COLUMN_TYPES = [
  'text',
  'integer',
  'bigint',
  'numeric',
  'double',
  'boolean',
  'date',
  'timestamp',
  'json',
] as const;
export const ColumnType = z.enum(COLUMN_TYPES);
export type ColumnType = z.infer<typeof ColumnType>;

export const GEOMETRY_TYPES = [
  'Point',
  'LineString',
  'Polygon',
  'MultiPoint',
  'MultiLineString',
  'MultiPolygon',
  'GeometryCollection',
] as const;
export const GeometryType = z.enum(GEOMETRY_TYPES);
export type GeometryType = z.infer<typeof GeometryType>;

export const Column = z
  .strictObject({
    name: z.string().max(63).regex(NAME, 'must start with a lowercase letter and use only a-z, 0-9 and _'),
    /** The header (CSV) or property name (GeoJSON) in the source file, when it differs from `name`. */
    source: z.string().min(1).optional(),
    type: ColumnType.default('text'),
    description: z.string().optional(),
    required: z.boolean().default(false),
    unique: z.boolean().default(false),
    min: z.number().optional(),
    max: z.number().optional(),
    values: z
      .array(z.union([z.string(), z.number()]))
      .min(1)
      .optional(),
  })
  .refine((c) => c.min === undefined || c.max === undefined || c.min <= c.max, {
    message: '`min` must not be greater than `max`',
    path: ['min'],
  })
  .refine(
    (c) =>
      (c.min === undefined && c.max === undefined) ||
      ['integer', 'bigint', 'numeric', 'double'].includes(c.type),
    {
      message: '`min` and `max` apply only to numeric columns',
      path: ['type'],
    },
  );
export type Column = z.infer<typeof Column>;

const Srid = z.number().int().positive();

export const Geometry = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('lonlat'),
    lon: z.string().min(1),
    lat: z.string().min(1),
    sourceSrid: Srid.default(4326),
    targetSrid: Srid.default(4326),
    required: z.boolean().default(true),
  }),
  z.strictObject({
    kind: z.literal('wkt'),
    column: z.string().min(1),
    type: GeometryType.optional(),
    /** 3 keeps Z values; with the default 2, a position with Z fails the load rather than losing it. */
    dimensions: z.union([z.literal(2), z.literal(3)]).default(2),
    sourceSrid: Srid.default(4326),
    targetSrid: Srid.default(4326),
    required: z.boolean().default(true),
  }),
  z.strictObject({
    /** The features' own geometry: GeoJSON's, or that of any format read through GDAL. */
    kind: z.literal('geojson'),
    type: GeometryType.optional(),
    /** 3 keeps Z values; with the default 2, a position with Z fails the load rather than losing it. */
    dimensions: z.union([z.literal(2), z.literal(3)]).default(2),
    /**
     * The CRS the file is in. GeoJSON without it is WGS84 (RFC 7946); a format read through GDAL says its
     * own (a .prj, GeoPackage metadata), which must then match this when it is given (or see `gdal.overrideSrid`).
     */
    sourceSrid: Srid.optional(),
    targetSrid: Srid.default(4326),
    required: z.boolean().default(true),
  }),
  z.strictObject({ kind: z.literal('none') }),
]);
export type Geometry = z.infer<typeof Geometry>;

/** Cron (5 fields) or `rate(N minutes|hours|days)`, as EventBridge takes them. */
export const Schedule = z
  .string()
  .refine(
    (s) => /^rate\(\d+ (minute|minutes|hour|hours|day|days)\)$/.test(s) || s.trim().split(/\s+/).length === 5,
    {
      message: 'must be a 5-field cron expression ("0 3 * * *") or rate(N minutes|hours|days)',
    },
  );

export const Source = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('upload') }),
  z.strictObject({
    kind: z.literal('http'),
    url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
    maxBytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024 * 1024),
    timeoutSeconds: z.number().int().positive().default(300),
  }),
  z.strictObject({ kind: z.literal('partner'), partner: Name }),
]);

export const DATASET_FORMATS = [
  'csv',
  'geojson',
  'shapefile',
  'gpkg',
  'flatgeobuf',
  'kml',
  'geojsonseq',
] as const;

export const Dataset = z
  .strictObject({
    name: Name,
    title: z.string().optional(),
    description: z.string().optional(),
    source: Source.default({ kind: 'upload' }),
    format: z.enum(DATASET_FORMATS),
    csv: z
      .strictObject({ delimiter: z.string().length(1, 'must be one character').default(',') })
      .default({ delimiter: ',' }),
    columns: z.array(Column).min(1, 'declare at least one column'),
    geometry: Geometry,
    schedule: Schedule.optional(),
    maxBytes: z.number().int().positive().optional(),
    /** How a format read through GDAL is read (layer, encoding, CRS override); see formats.ts. */
    gdal: GdalOptions.optional(),
    // minRows, maxRows, allowEmpty, invalidGeometry, bbox, change: see contract.ts
    ...contractFields,
  })
  .superRefine((d, ctx) => {
    checkDatasetFormat(d, ctx);
    contractIssues(d, ctx);
    const seen = new Set<string>();
    d.columns.forEach((c, i) => {
      if (seen.has(c.name))
        ctx.addIssue({
          code: 'custom',
          path: ['columns', i, 'name'],
          message: `duplicate column "${c.name}"`,
        });
      if (c.name === 'geom')
        ctx.addIssue({
          code: 'custom',
          path: ['columns', i, 'name'],
          message: '"geom" is reserved for the geometry',
        });
      seen.add(c.name);
    });
    const g = d.geometry;
    if (d.format === 'geojson' && g.kind !== 'geojson' && g.kind !== 'none')
      ctx.addIssue({
        code: 'custom',
        path: ['geometry', 'kind'],
        message: 'a geojson dataset takes geometry kind "geojson" (or "none")',
      });
    if (d.format === 'csv' && g.kind === 'geojson')
      ctx.addIssue({
        code: 'custom',
        path: ['geometry', 'kind'],
        message: 'a csv dataset takes geometry kind "lonlat", "wkt" or "none"',
      });
    const byName = new Map(d.columns.map((c) => [c.name, c]));
    const numeric = ['integer', 'bigint', 'numeric', 'double'];
    const refs: [string, string, string[]][] =
      g.kind === 'lonlat'
        ? [
            ['lon', g.lon, numeric],
            ['lat', g.lat, numeric],
          ]
        : g.kind === 'wkt'
          ? [['column', g.column, ['text']]]
          : [];
    for (const [field, col, types] of refs) {
      const c = byName.get(col);
      if (!c)
        ctx.addIssue({
          code: 'custom',
          path: ['geometry', field],
          message: `"${col}" is not a declared column`,
        });
      else if (!types.includes(c.type))
        ctx.addIssue({
          code: 'custom',
          path: ['geometry', field],
          message: `column "${col}" must be of type ${types.join(' or ')}, got ${c.type}`,
        });
    }
    if (d.source.kind === 'http' && !d.schedule)
      ctx.addIssue({
        code: 'custom',
        path: ['schedule'],
        message: 'an http source needs a schedule to be fetched on',
      });
  });
export type Dataset = z.infer<typeof Dataset>;

export const Input = z.union([
  Name.transform((dataset) => ({ dataset, version: 'latest' })),
  z.strictObject({ dataset: Name, version: z.string().min(1).default('latest') }),
  /** An output of another product's published version: `latest`, or a version id it published. */
  z.strictObject({ product: Name, output: Name, version: z.string().min(1).default('latest') }),
]);

const bbox = z.tuple([z.number(), z.number(), z.number(), z.number()]);

const checkBase = {
  name: z.string().min(1).optional(),
  table: Name,
  severity: z.enum(['error', 'warn']).default('error'),
};
export const Check = z.discriminatedUnion('type', [
  z.strictObject({
    ...checkBase,
    type: z.literal('row_count'),
    min: z.number().int().nonnegative().optional(),
    max: z.number().int().nonnegative().optional(),
  }),
  z.strictObject({ ...checkBase, type: z.literal('not_null'), columns: z.array(z.string().min(1)).min(1) }),
  z.strictObject({ ...checkBase, type: z.literal('unique'), columns: z.array(z.string().min(1)).min(1) }),
  z.strictObject({ ...checkBase, type: z.literal('geometry_valid'), column: z.string().default('geom') }),
  z.strictObject({
    ...checkBase,
    type: z.literal('within_bbox'),
    column: z.string().default('geom'),
    /** [minx, miny, maxx, maxy] in `srid` (default WGS84). */
    bbox,
    srid: Srid.default(4326),
  }),
  z.strictObject({
    ...checkBase,
    type: z.literal('geometry_type'),
    column: z.string().default('geom'),
    types: z.array(GeometryType).min(1),
  }),
  z.strictObject({ ...checkBase, type: z.literal('sql'), sql: z.string().min(1) }),
]);
export type Check = z.infer<typeof Check>;

export const OUTPUT_FORMATS = ['csv', 'geojson', 'gpkg', 'flatgeobuf', 'shapefile', 'geoparquet'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export const Output = z.strictObject({
  table: Name,
  /** File name stem in the published version; defaults to the table name. */
  name: Name.optional(),
  /** Default: csv and geojson, and flatgeobuf when the table has a geometry (see `planExports`). */
  formats: z.array(z.enum(OUTPUT_FORMATS)).min(1).optional(),
  geometry: z.string().default('geom'),
  /** How geometry appears in CSV: WKT in a `geometry` column, or `lon`/`lat` for points. */
  csvGeometry: z.enum(['wkt', 'lonlat', 'none']).default('wkt'),
  orderBy: z.array(z.string().min(1)).optional(),
  /** Columns that identify a row across versions: the QA report counts changed rows by them. */
  key: z.array(z.string().min(1)).min(1).optional(),
});
export type Output = z.infer<typeof Output>;

export const Product = z
  .strictObject({
    name: Name,
    title: z.string().optional(),
    description: z.string().optional(),
    inputs: z.record(Name, Input).refine((r) => Object.keys(r).length > 0, 'declare at least one input'),
    /** SQL files in order; defaults to every `NNN_*.sql` in the product folder, sorted. */
    steps: z
      .array(z.string().regex(/^[\w.-]+\.sql$/, 'must be a .sql file in the product folder'))
      .optional(),
    checks: z.array(Check).default([]),
    outputs: z.array(Output).min(1, 'declare at least one output'),
    schedule: Schedule.optional(),
    /** Hours a failed build's schema is kept for inspection before `strata gc` drops it. */
    keepFailedBuildHours: z.number().nonnegative().default(24),
  })
  .superRefine((p, ctx) => {
    p.checks.forEach((c, i) => {
      if (c.type === 'row_count' && c.min !== undefined && c.max !== undefined && c.min > c.max)
        ctx.addIssue({
          code: 'custom',
          path: ['checks', i, 'min'],
          message: '`min` must not be greater than `max`',
        });
      if (c.type === 'within_bbox' && (c.bbox[0] > c.bbox[2] || c.bbox[1] > c.bbox[3]))
        ctx.addIssue({
          code: 'custom',
          path: ['checks', i, 'bbox'],
          message: 'bbox must be [minx, miny, maxx, maxy]',
        });
    });
    const names = new Set<string>();
    p.outputs.forEach((o, i) => {
      for (const x of outputFormatIssues(o.formats))
        ctx.addIssue({ code: 'custom', path: ['outputs', i, ...x.path], message: x.message });
      const n = o.name ?? o.table;
      if (names.has(n))
        ctx.addIssue({ code: 'custom', path: ['outputs', i], message: `duplicate output name "${n}"` });
      names.add(n);
    });
  });
export type Product = z.infer<typeof Product>;
export type DatasetInput = { readonly dataset: string; readonly version: string };
/** An input that reads an output of another product's published version. */
export type UpstreamInput = { readonly product: string; readonly output: string; readonly version: string };
export type ProductInput = DatasetInput | UpstreamInput;

export const isUpstreamInput = (i: ProductInput): i is UpstreamInput => 'product' in i;

/** The name an output is published and read under: its `name`, else its table's. */
export const outputName = (o: Pick<Output, 'name' | 'table'>): string => o.name ?? o.table;

/** A product as loaded: its document plus the resolved SQL steps. */
export interface ProductEntry {
  readonly product: Product;
  readonly dir: string;
  readonly steps: readonly { file: string; sql: string }[];
}
