import type { Readable } from 'node:stream';

/** The GDAL programs Strata runs, by their command-line names; both adapters take their arguments. */
export type GdalTool = 'ogr2ogr' | 'ogrinfo' | 'gdalsrsinfo';

/** What to install when GDAL is missing or lacks something, said the same way everywhere. */
export const GDAL_INSTALL =
  'install GDAL 3.6 or newer: `apt-get install gdal-bin` on Debian or Ubuntu, `brew install gdal` on macOS';

export class GdalFailedError extends Error {
  constructor(
    readonly tool: string,
    /** GDAL's own `ERROR n: ...` and `FAILURE: ...` lines, in order, without their prefixes. */
    readonly errors: readonly string[],
    readonly exitCode: number | null,
  ) {
    super(`${tool} failed: ${errors[0] ?? `exit code ${exitCode}`}`);
    this.name = 'GdalFailedError';
  }
}

/** The lines of GDAL's stderr that say what went wrong: errors first, and the line after a bare FAILURE:. */
export function gdalErrors(stderr: string): string[] {
  const lines = stderr.split('\n').map((l) => l.trim());
  const out: string[] = [];
  lines.forEach((l, i) => {
    const m = /^(?:ERROR \d+|FAILURE):\s*(.*)$/.exec(l);
    if (!m) return;
    const text = m[1] || lines[i + 1] || '';
    if (text) out.push(text);
  });
  return out;
}

/**
 * Settings for every GDAL program Strata runs: no `.aux.xml` files written beside what it reads (the
 * archive is never written to), and messages in English whatever the machine's locale.
 */
export const GDAL_ENV = { GDAL_PAM_ENABLED: 'NO', CPL_LOG_ERRORS: 'ON', LC_ALL: 'C' } as const;

/** A program's output read as it is written, for a layer too large to hold. */
export interface GdalStream {
  readonly stdout: Readable;
  /** Resolves when the program has finished with success; rejects with GdalFailedError or MissingToolError. */
  readonly done: Promise<void>;
  /** Ends the program (or drops its output) when the reader stops early. */
  stop(): void;
}

/**
 * GDAL, whichever build runs it: the system's programs in a process of their own, or GDAL compiled to
 * WebAssembly inside this process. Both take the programs' own arguments, so the callers build one list.
 */
export interface GdalPort {
  readonly kind: 'system' | 'embedded';
  /** GDAL's version, `3.6.2`. */
  readonly version: string;
  /** Runs a program to its end and returns what it wrote to stdout. */
  run(tool: GdalTool, args: readonly string[]): Promise<string>;
  /** Starts ogr2ogr writing to `/vsistdout/`, whose output is the caller's to read. */
  stream(args: readonly string[]): GdalStream;
}

/** How the output names the GDAL in use: `GDAL 3.6.2 (system)`, `GDAL 3.8.4 (embedded; install gdal-bin for speed)`. */
export function gdalLabel(port: Pick<GdalPort, 'kind' | 'version'>): string {
  return port.kind === 'system'
    ? `GDAL ${port.version} (system)`
    : `GDAL ${port.version} (embedded; install gdal-bin for speed)`;
}
