import { z } from 'zod';

/**
 * A dataset's contract beyond its columns and geometry: what a file must be to become a version. Its columns
 * (types, required, unique, min, max, values) and geometry (kind, type, dimensions, CRS) are the rest of it.
 * A file that breaks any of it is quarantined, with a receipt that lists every problem.
 */

/** "20%": a share of the current version's rows. */
const Percent = z
  .string()
  .regex(/^\d+(\.\d+)?%$/, 'must be a percentage, like "20%"')
  .transform((s) => Number(s.slice(0, -1)));

export const ChangeLimits = z.strictObject({
  /** Refuse a file with more than this share fewer rows than the current version. */
  maxFewerRows: Percent.optional(),
  /** Refuse a file with more than this share more rows than the current version. */
  maxMoreRows: Percent.optional(),
  /** `refuse`: a column that has values in the current version must not be empty in the file. */
  columnRemoved: z.enum(['refuse', 'allow']).default('allow'),
});
export type ChangeLimits = z.infer<typeof ChangeLimits>;

export const INVALID_GEOMETRY_POLICIES = ['refuse', 'repair', 'keep'] as const;
export type InvalidGeometryPolicy = (typeof INVALID_GEOMETRY_POLICIES)[number];

/** The fields a dataset's YAML takes for its contract; spread into `Dataset`. */
export const contractFields = {
  /** Fewest rows a file may have; default 1 (0 with `allowEmpty`). */
  minRows: z.number().int().nonnegative().optional(),
  maxRows: z.number().int().positive().optional(),
  /** Accept a file with no rows (the same as `minRows: 0`). */
  allowEmpty: z.boolean().default(false),
  /** What to do with a geometry PostGIS finds invalid: refuse the file, repair it (ST_MakeValid, structure method) or keep it with a warning. */
  invalidGeometry: z.enum(INVALID_GEOMETRY_POLICIES).default('refuse'),
  /** [minx, miny, maxx, maxy] in WGS84 (EPSG:4326): every geometry must lie within. */
  bbox: z.tuple([z.number(), z.number(), z.number(), z.number()]).optional(),
  /** Limits on how far a file may differ from the current version. */
  change: ChangeLimits.optional(),
};

interface ContractDoc {
  minRows?: number;
  maxRows?: number;
  allowEmpty: boolean;
  bbox?: [number, number, number, number];
  geometry: { kind: string };
}

/** Cross-field rules of the contract, for `Dataset`'s superRefine. */
export function contractIssues(d: ContractDoc, ctx: z.RefinementCtx): void {
  if (d.allowEmpty && d.minRows !== undefined && d.minRows > 0)
    ctx.addIssue({
      code: 'custom',
      path: ['allowEmpty'],
      message: `\`allowEmpty: true\` contradicts \`minRows: ${d.minRows}\``,
    });
  if (d.maxRows !== undefined && d.maxRows < minRowsOf(d))
    ctx.addIssue({
      code: 'custom',
      path: ['maxRows'],
      message: `\`maxRows\` must not be less than \`minRows\` (${minRowsOf(d)})`,
    });
  if (d.bbox && (d.bbox[0] > d.bbox[2] || d.bbox[1] > d.bbox[3]))
    ctx.addIssue({ code: 'custom', path: ['bbox'], message: 'bbox must be [minx, miny, maxx, maxy]' });
  if (d.bbox && d.geometry.kind === 'none')
    ctx.addIssue({ code: 'custom', path: ['bbox'], message: 'a dataset with no geometry takes no bbox' });
}

/** The fewest rows a file of the dataset may have: `minRows`, else 0 with `allowEmpty`, else 1. */
export function minRowsOf(d: { minRows?: number; allowEmpty: boolean }): number {
  return d.minRows ?? (d.allowEmpty ? 0 : 1);
}
