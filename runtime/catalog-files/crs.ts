import { runGdal } from '../adapters/gdal/facade.ts';
import { MissingToolError } from '../errors.ts';

const asked = new Map<number, Promise<boolean | undefined>>();

/**
 * Whether PROJ knows EPSG:`code` as a coordinate reference system, asked of GDAL's gdalsrsinfo once a
 * process per code; undefined when GDAL is not installed to ask (the load then finds out instead).
 */
export function crsKnown(code: number): Promise<boolean | undefined> {
  if (code === 4326) return Promise.resolve(true);
  let answer = asked.get(code);
  if (!answer) {
    answer = runGdal('gdalsrsinfo', ['-o', 'epsg', `EPSG:${code}`]).then(
      () => true,
      (e: unknown) => (e instanceof MissingToolError ? undefined : false),
    );
    asked.set(code, answer);
  }
  return answer;
}

/** Where a catalog file names a CRS code, for an issue that points at it. */
export interface CrsReference {
  readonly file: string;
  readonly path: string;
  readonly code: number;
}

/** The references whose code PROJ does not know, asked all at once. */
export async function unknownCrs(refs: readonly CrsReference[]): Promise<CrsReference[]> {
  const known = await Promise.all(refs.map((r) => crsKnown(r.code)));
  return refs.filter((_, i) => known[i] === false);
}
