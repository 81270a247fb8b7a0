import { MissingToolError, UsageError } from '../../errors.ts';
import { GDAL_INSTALL, type GdalPort } from '../../ports/gdal.ts';
import { missingProgram, nativeGdal, systemGdalVersion } from './native.ts';
import { embeddedGdal, embeddedPackage } from './wasm.ts';

/** Which GDAL to use: `STRATA_GDAL=system` or `embedded` forces one; by default the system's when it is there. */
export type GdalChoice = 'auto' | 'system' | 'embedded';

export function gdalChoice(value: string | undefined): GdalChoice {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'system' || value === 'embedded') return value;
  throw new UsageError(`STRATA_GDAL must be system, embedded or auto, got: ${value}`);
}

/** What the chooser asks of the machine: kept apart so a test can say what is installed. */
export interface GdalProbes {
  /** The system GDAL's version, or undefined when ogr2ogr is not on the PATH. */
  system(): Promise<string | undefined>;
  /** The embedded GDAL's version, or undefined when its package is not installed. Loads nothing. */
  embedded(): string | undefined;
}

export const MACHINE: GdalProbes = {
  system: systemGdalVersion,
  embedded: () => embeddedPackage()?.version,
};

/**
 * The GDAL this process uses: the system's programs wherever ogr2ogr is on the PATH (faster, and what the task
 * image has), else the embedded WebAssembly build, which is only loaded when a format first needs it.
 */
export async function chooseGdal(choice: GdalChoice, probes: GdalProbes = MACHINE): Promise<GdalPort> {
  if (choice !== 'embedded') {
    const version = await probes.system();
    if (version) return nativeGdal(version);
    if (choice === 'system') throw missingProgram('ogr2ogr');
  }
  const version = probes.embedded();
  if (version) return embeddedGdal(version);
  throw new MissingToolError(
    choice === 'embedded'
      ? `STRATA_GDAL=embedded but the embedded GDAL (the gdal3.js package) is not installed: run \`npm ci\`, or ${GDAL_INSTALL}`
      : `GDAL is not available: ogr2ogr is not on the PATH and the embedded GDAL (the gdal3.js package) is not installed; ${GDAL_INSTALL}, or run \`npm ci\``,
  );
}
