import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { MissingToolError } from '../errors.ts';

/** What to install when GDAL is missing, said the same way everywhere. */
export const GDAL_INSTALL =
  'install GDAL 3.6 or newer: `apt-get install gdal-bin` on Debian or Ubuntu, `brew install gdal` on macOS';

/**
 * Settings for every GDAL program Strata runs: no `.aux.xml` files written beside what it reads (the
 * archive is never written to), and messages in English whatever the machine's locale.
 */
const GDAL_ENV = { GDAL_PAM_ENABLED: 'NO', CPL_LOG_ERRORS: 'ON', LC_ALL: 'C' };

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

function missing(tool: string): MissingToolError {
  return new MissingToolError(
    `GDAL's ${tool} is not installed (it reads and writes formats beyond CSV and GeoJSON); ${GDAL_INSTALL}`,
  );
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

/** Stderr kept for the error message, up to a bound: a run of warnings must not fill memory. */
const STDERR_LIMIT = 64 << 10;

export interface GdalProcess {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  /** Resolves when the program has exited with 0; rejects with GdalFailedError or MissingToolError. */
  readonly done: Promise<void>;
  /** What the program wrote to stderr so far (bounded). */
  stderr(): string;
}

/** Starts a GDAL program. Its stdout is the caller's to read; stdin is the caller's to write or end. */
export function spawnGdal(tool: 'ogr2ogr' | 'ogrinfo' | 'gdalsrsinfo', args: readonly string[]): GdalProcess {
  const child = spawn(tool, args, {
    env: { ...process.env, ...GDAL_ENV },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += d;
  });
  // A program that exits before reading its stdin closes the pipe: that is reported by `done`, not here.
  child.stdin.on('error', () => {});
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? missing(tool) : e));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new GdalFailedError(
            tool,
            gdalErrors(stderr).length > 0 ? gdalErrors(stderr) : signal ? [`killed by ${signal}`] : [],
            code,
          ),
        );
    });
  });
  done.catch(() => {});
  return { child, done, stderr: () => stderr };
}

/** Runs a GDAL program to its end and returns what it wrote to stdout. */
export async function runGdal(
  tool: 'ogr2ogr' | 'ogrinfo' | 'gdalsrsinfo',
  args: readonly string[],
): Promise<string> {
  const p = spawnGdal(tool, args);
  p.child.stdin.end();
  let stdout = '';
  p.child.stdout.setEncoding('utf8');
  p.child.stdout.on('data', (d: string) => {
    stdout += d;
  });
  await p.done;
  return stdout;
}

let version: Promise<string | undefined> | undefined;

/** GDAL's version (`3.6.2`), or undefined when ogr2ogr is not installed. Asked once a process. */
export function gdalVersion(): Promise<string | undefined> {
  version ??= runGdal('ogr2ogr', ['--version']).then(
    (out) => /GDAL (\d+\.\d+(?:\.\d+)?)/.exec(out)?.[1],
    () => undefined,
  );
  return version;
}

/** Fails with what to install when GDAL is not there, before any work that needs it starts. */
export async function requireGdal(): Promise<void> {
  if (!(await gdalVersion())) throw missing('ogr2ogr');
}
