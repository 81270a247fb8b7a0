/**
 * The command lines of ogr2ogr and ogrinfo taken apart the way the programs themselves do before they call
 * GDAL's library: the embedded GDAL has the library functions (GDALVectorTranslate, GDALVectorInfo) but not
 * the programs, whose part is to open the files, set `--config` options and pass the rest on.
 */

/** Options that take values, by how many; every other option is a flag. From the programs' documentation. */
const VALUES: Record<string, number> = {
  '-f': 1,
  '-of': 1,
  '-dsco': 1,
  '-lco': 1,
  '-oo': 1,
  '-doo': 1,
  '-nln': 1,
  '-nlt': 1,
  '-dim': 1,
  '-a_srs': 1,
  '-t_srs': 1,
  '-s_srs': 1,
  '-ct': 1,
  '-select': 1,
  '-where': 1,
  '-sql': 1,
  '-dialect': 1,
  '-spat': 4,
  '-spat_srs': 1,
  '-geomfield': 1,
  '-segmentize': 1,
  '-simplify': 1,
  '-fieldTypeToString': 1,
  '-mapFieldType': 1,
  '-fieldmap': 1,
  '-gt': 1,
  '-mo': 1,
  '-fid': 1,
  '-limit': 1,
  '-maxsubfields': 1,
  '-datelineoffset': 1,
  '-zfield': 1,
  '-xyRes': 1,
  '-zRes': 1,
  '-mRes': 1,
  '-s_coord_epoch': 1,
  '-t_coord_epoch': 1,
  '-a_coord_epoch': 1,
  '-clipsrcsql': 1,
  '-clipsrclayer': 1,
  '-clipsrcwhere': 1,
  '-clipdstsql': 1,
  '-clipdstlayer': 1,
  '-clipdstwhere': 1,
  '-if': 1,
  '-wkt_format': 1,
  '-mdd': 1,
  '-o': 1,
  '--config': 2,
};

export interface ParsedArgs {
  /** `--config KEY VALUE` pairs, set around the call. */
  readonly config: readonly (readonly [string, string])[];
  /** `-oo` values: the dataset's open options, given to GDALOpenEx. */
  readonly openOptions: readonly string[];
  /** Whether `-ro` asked for the dataset read-only (ogrinfo opens for update otherwise). */
  readonly readOnly: boolean;
  /** Arguments that are not options, in order: ogr2ogr's destination, source and layers; ogrinfo's file and layers. */
  readonly positional: readonly string[];
  /** Everything else, for the library's options parser. */
  readonly options: readonly string[];
}

/** Splits a command line; an option whose values are missing is refused, naming it. */
export function parseGdalArgs(args: readonly string[]): ParsedArgs {
  const config: [string, string][] = [];
  const openOptions: string[] = [];
  const positional: string[] = [];
  const options: string[] = [];
  let readOnly = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    const n = VALUES[a] ?? 0;
    const values = args.slice(i + 1, i + 1 + n);
    if (values.length < n) throw new Error(`GDAL option ${a} needs ${n} value${n > 1 ? 's' : ''}`);
    i += n;
    if (a === '--config') config.push([values[0]!, values[1]!]);
    else if (a === '-oo') openOptions.push(values[0]!);
    else if (a === '-ro') readOnly = true;
    else options.push(a, ...values);
  }
  return { config, openOptions, readOnly, positional, options };
}
