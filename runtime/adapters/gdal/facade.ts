import { type GdalPort, type GdalStream, type GdalTool, gdalLabel } from '../../ports/gdal.ts';
import { chooseGdal, type GdalChoice, gdalChoice } from './choose.ts';

// The GDAL façade: callers run GDAL's programs by name with their usual arguments, and the port chosen at the
// first call (choose.ts) runs them, on the system's GDAL or the embedded one. Its errors are the port's.

/** Read once, when the first GDAL work starts: STRATA_GDAL=system|embedded|auto (default auto). */
let chosen: Promise<GdalPort> | undefined;

let announce: ((label: string) => void) | undefined;

/** Has the GDAL chosen named when the choice is made (the command line prints it; a Lambda or task logs nothing). */
export function announceGdal(fn: (label: string) => void): void {
  announce = fn;
}

/** The GDAL this process uses; rejects with MissingToolError (saying what to install) when there is none. */
export function gdal(): Promise<GdalPort> {
  if (!chosen) {
    chosen = chooseGdal(gdalChoice(process.env.STRATA_GDAL)).then((port) => {
      announce?.(gdalLabel(port));
      return port;
    });
    // A failed choice is asked again next time: GDAL may have been installed meanwhile (a long `strata serve`).
    chosen.catch(() => {
      chosen = undefined;
    });
  }
  return chosen;
}

/** Forgets the choice made, for a test or benchmark that sets STRATA_GDAL in between. */
export function resetGdalChoice(choice?: GdalChoice): void {
  chosen = choice ? chooseGdal(choice) : undefined;
  chosen?.catch(() => {
    chosen = undefined;
  });
}

/** Runs a GDAL program to its end and returns what it wrote to stdout. */
export async function runGdal(tool: GdalTool, args: readonly string[]): Promise<string> {
  return (await gdal()).run(tool, args);
}

/** Starts ogr2ogr writing to `/vsistdout/`, whose output the caller reads as it comes. */
export async function streamGdal(args: readonly string[]): Promise<GdalStream> {
  return (await gdal()).stream(args);
}

/** `GDAL 3.6.2 (system)` or `GDAL 3.8.4 (embedded; install gdal-bin for speed)`, for the output. */
export async function gdalInUse(): Promise<string> {
  return gdalLabel(await gdal());
}

/** Fails with what to install when there is no GDAL, before any work that needs it starts. */
export async function requireGdal(): Promise<void> {
  await gdal();
}
