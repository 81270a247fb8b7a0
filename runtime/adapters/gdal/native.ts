import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { MissingToolError } from '../../errors.ts';
import {
  GDAL_ENV,
  GDAL_INSTALL,
  GdalFailedError,
  type GdalPort,
  type GdalTool,
  gdalErrors,
} from '../../ports/gdal.ts';

export function missingProgram(tool: string): MissingToolError {
  return new MissingToolError(
    `GDAL's ${tool} is not installed (it reads and writes formats beyond CSV and GeoJSON); ${GDAL_INSTALL}`,
  );
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

/** Starts a system GDAL program. Its stdout is the caller's to read; stdin is the caller's to write or end. */
export function spawnGdal(tool: GdalTool, args: readonly string[]): GdalProcess {
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
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? missingProgram(tool) : e));
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

async function runProgram(tool: GdalTool, args: readonly string[]): Promise<string> {
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

/** The system's GDAL version (`3.6.2`), or undefined when its ogr2ogr is not on the PATH. */
export async function systemGdalVersion(): Promise<string | undefined> {
  try {
    return /GDAL (\d+\.\d+(?:\.\d+)?)/.exec(await runProgram('ogr2ogr', ['--version']))?.[1];
  } catch {
    return undefined;
  }
}

/**
 * The system's GDAL programs, each in a process of its own: ogr2ogr streams a layer to its stdout as it
 * reads it, so a load's memory stays flat whatever the file's size.
 */
export function nativeGdal(version: string): GdalPort {
  return {
    kind: 'system',
    version,
    run: runProgram,
    stream(args) {
      const p = spawnGdal('ogr2ogr', args);
      p.child.stdin.end();
      return { stdout: p.child.stdout, done: p.done, stop: () => p.child.kill('SIGKILL') };
    },
  };
}
