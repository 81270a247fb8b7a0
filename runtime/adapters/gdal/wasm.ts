import { createReadStream, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { MissingToolError } from '../../errors.ts';
import {
  GDAL_ENV,
  GDAL_INSTALL,
  GdalFailedError,
  type GdalPort,
  type GdalTool,
  gdalErrors,
} from '../../ports/gdal.ts';
import { parseGdalArgs } from './argv.ts';

const require = createRequire(import.meta.url);

/**
 * The GDAL each gdal3.js release is built from: the package says only its own version, and the WebAssembly
 * build exports no GDALVersionInfo to ask (a unit test reads the version from the .wasm file's own paths).
 */
const GDAL_OF = { '2.8.1': '3.8.4' } as Record<string, string>;

/** The installed gdal3.js: its folder and the GDAL it holds, or undefined when it is not installed. */
export function embeddedPackage(): { dir: string; version: string } | undefined {
  let pkg: string;
  try {
    pkg = require.resolve('gdal3.js/package.json');
  } catch {
    return undefined;
  }
  const own = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  return { dir: dirname(pkg), version: GDAL_OF[own] ?? own.replace(/^2\./, '3.') };
}

/** The parts of the Emscripten module Strata uses. */
interface EmModule {
  FS: {
    mkdir(path: string): void;
    mount(type: unknown, opts: { root: string }, mountpoint: string): void;
    analyzePath(path: string): { exists: boolean };
    chdir(path: string): void;
  };
  NODEFS: unknown;
  cwrap(name: string, ret: string | null, args: string[]): (...a: unknown[]) => unknown;
  _malloc(n: number): number;
  _free(p: number): void;
  stringToUTF8(s: string, p: number, max: number): void;
  lengthBytesUTF8(s: string): number;
  UTF8ToString(p: number): string;
  HEAPU32: Uint32Array;
}

type InitGdal = (config: {
  path: string;
  env?: Record<string, string>;
  logHandler?: (m: string) => void;
  errorHandler?: (m: string) => void;
}) => Promise<{ Module: EmModule; drivers: { vector: Record<string, unknown> } }>;

const GDAL_OF_VECTOR = 0x04;
const GDAL_OF_VERBOSE_ERROR = 0x40;

/** Top-level host folders that the module's own file system already uses for itself (GDAL's data sits in /usr). */
const OWN = new Set(['usr', 'dev', 'proc']);

interface Embedded {
  /** Runs one program's work, with the working directory reachable; its stderr is `errText()` meanwhile. */
  call<T>(tool: GdalTool, fn: () => T): T;
  errText(): string;
  /** Makes an absolute host path (and any inside a `/vsi...` path or an `OPTION=/path`) readable at the same path. */
  reach(arg: string): void;
  fns: ReturnType<typeof wrapAll>;
  M: EmModule;
  /** Vector drivers' names, in lower case. */
  drivers: Set<string>;
}

/** GDAL's library functions this adapter calls, by short names. */
function wrapAll(M: EmModule) {
  const wrap = (name: string, ret: string | null, args: string[]) => M.cwrap(name, ret, args);
  return {
    open: wrap('GDALOpenEx', 'number', ['string', 'number', 'number', 'number', 'number']),
    close: wrap('GDALClose', null, ['number']),
    translateOptions: wrap('GDALVectorTranslateOptionsNew', 'number', ['number', 'number']),
    translateFree: wrap('GDALVectorTranslateOptionsFree', null, ['number']),
    translate: wrap('GDALVectorTranslate', 'number', [
      'string',
      'number',
      'number',
      'number',
      'number',
      'number',
    ]),
    infoOptions: wrap('GDALVectorInfoOptionsNew', 'number', ['number', 'number']),
    infoFree: wrap('GDALVectorInfoOptionsFree', null, ['number']),
    // A pointer, not 'string': the text is GDAL's to allocate and ours to free, else every ogrinfo leaks it.
    info: wrap('GDALVectorInfo', 'number', ['number', 'number']),
    setConfig: wrap('CPLSetConfigOption', null, ['string', 'string']),
    errorReset: wrap('CPLErrorReset', null, []),
    lastError: wrap('CPLGetLastErrorMsg', 'string', []),
    srsNew: wrap('OSRNewSpatialReference', 'number', ['string']),
    srsSet: wrap('OSRSetFromUserInput', 'number', ['number', 'string']),
    srsWkt: wrap('OSRExportToWkt', 'number', ['number', 'number']),
    srsFree: wrap('OSRDestroySpatialReference', null, ['number']),
  };
}

let loading: Promise<Embedded> | undefined;

/**
 * Loads GDAL's WebAssembly build once a process, at its first use: 28 MB of code and 11 MB of GDAL's and
 * PROJ's data files, from the package's own folder (nothing is fetched). The host's folders are mounted at
 * their own paths, so a path means the same inside and out, in arguments and inside files (a VRT's source).
 */
function load(): Promise<Embedded> {
  loading ??= (async () => {
    const pkg = embeddedPackage();
    if (!pkg) throw missingEmbedded();
    let stderr: string[] = [];
    const init = require('gdal3.js/node.js') as InitGdal;
    // gdal3.js reads its .data file at `./<path>`, from the working directory whatever the path: relative it is.
    const files = relative(process.cwd(), join(pkg.dir, 'dist', 'package')) || '.';
    const hadLocation = 'location' in globalThis;
    const gdal = await init({
      path: files,
      // This build has no threads: GDAL 3.8 would start one to read a GeoPackage through its Arrow route
      // (GeoPackage to GeoPackage), and fail with "Cannot start worker thread".
      env: { ...GDAL_ENV, OGR2OGR_USE_ARROW_API: 'NO', OGR_GPKG_NUM_THREADS: '1' },
      logHandler: () => {},
      errorHandler: (m) => {
        stderr.push(m);
      },
    });
    // Its Node build sets a global `location` for its own start-up; it is not left for other code to find.
    if (!hadLocation) Reflect.deleteProperty(globalThis, 'location');
    const M = gdal.Module;
    const fns = wrapAll(M);
    keepLinksAbsolute(M);
    const mounted = new Set<string>();
    const mount = (abs: string) => {
      const top = abs.split('/')[1];
      if (!top || mounted.has(top)) return;
      if (OWN.has(top))
        throw new MissingToolError(
          `the embedded GDAL cannot reach files under /${top} (its own data lives there); move the file, or ${GDAL_INSTALL}`,
        );
      if (!M.FS.analyzePath(`/${top}`).exists) M.FS.mkdir(`/${top}`);
      M.FS.mount(M.NODEFS, { root: `/${top}` }, `/${top}`);
      mounted.add(top);
    };
    return {
      M,
      fns,
      // GDAL matches driver names ignoring case (PGDump is PGDUMP).
      drivers: new Set(Object.keys(gdal.drivers.vector).map((d) => d.toLowerCase())),
      reach(arg) {
        const path = arg.replace(/^(?:\/vsi[a-z0-9]+\/)+/, '/').replace(/^\/+/, '/');
        for (const m of path.matchAll(/(?:^|=)(\/[^/\s]+)(?:\/|$)/g)) mount(m[1]!);
      },
      call(tool, fn) {
        stderr = [];
        // A working directory under GDAL's own folders (/usr/src/app in a dev container) is not mounted;
        // absolute paths still work there, and only a file under those folders is refused (in reach).
        const cwd = process.cwd();
        if (!OWN.has(cwd.split('/')[1] ?? '')) {
          mount(cwd);
          M.FS.chdir(cwd);
        } else M.FS.chdir('/');
        fns.errorReset();
        try {
          return fn();
        } catch (e) {
          if (e instanceof GdalFailedError || e instanceof MissingToolError) throw e;
          // An abort inside the module (out of memory, most likely) leaves it unusable: the next use reloads it.
          loading = undefined;
          throw new GdalFailedError(tool, [`the embedded GDAL stopped: ${(e as Error).message}`], null);
        }
      },
      errText: () => stderr.join('\n'),
    };
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

export /**
 * Emscripten's NODEFS reads a symbolic link's absolute target as relative to the mount's root, then resolves
 * that beside the link: a wrong path. Host folders are mounted at their own paths here, so the target as the
 * host says it is right; Strata links a source file in under the extension GDAL expects (gdal-source.ts).
 */
function keepLinksAbsolute(M: EmModule): void {
  const nodefs = M.NODEFS as {
    realPath(node: unknown): string;
    node_ops: { readlink(node: unknown): string };
  };
  const original = nodefs.node_ops.readlink;
  nodefs.node_ops.readlink = (node) => {
    const target = (() => {
      try {
        return readlinkSync(nodefs.realPath(node));
      } catch {
        return undefined;
      }
    })();
    return target?.startsWith('/') ? target : original(node);
  };
}

export function missingEmbedded(): MissingToolError {
  return new MissingToolError(
    `GDAL is not available: ogr2ogr is not on the PATH and the embedded GDAL (the gdal3.js package) is not installed; ${GDAL_INSTALL}, or run \`npm ci\``,
  );
}

/** A NULL-terminated char** in the module's memory, and how to free it. */
function strings(M: EmModule, list: readonly string[]): { ptr: number; free(): void } {
  const ptrs = list.map((s) => {
    const n = M.lengthBytesUTF8(s) + 1;
    const p = M._malloc(n);
    M.stringToUTF8(s, p, n);
    return p;
  });
  const ptr = M._malloc((ptrs.length + 1) * 4);
  M.HEAPU32.set([...ptrs, 0], ptr >> 2);
  return {
    ptr,
    free() {
      for (const p of ptrs) M._free(p);
      M._free(ptr);
    },
  };
}

/** Fails with GDAL's own messages (or the one given) when a call returned NULL. */
function failed(tool: GdalTool, g: Embedded, fallback: string): GdalFailedError {
  const errors = gdalErrors(g.errText());
  const last = String(g.fns.lastError() ?? '');
  return new GdalFailedError(tool, errors.length > 0 ? errors : [last || fallback], 1);
}

function openSource(tool: GdalTool, g: Embedded, path: string, openOptions: readonly string[]) {
  g.reach(path);
  const oo = strings(g.M, openOptions);
  try {
    const ds = g.fns.open(path, GDAL_OF_VECTOR | GDAL_OF_VERBOSE_ERROR, 0, oo.ptr, 0) as number;
    if (!ds) throw failed(tool, g, `unable to open ${path}`);
    return ds;
  } finally {
    oo.free();
  }
}

function withConfig<T>(g: Embedded, config: readonly (readonly [string, string])[], fn: () => T): T {
  for (const [k, v] of config) g.fns.setConfig(k, v);
  try {
    return fn();
  } finally {
    for (const [k] of config) g.fns.setConfig(k, null);
  }
}

function ogr2ogr(g: Embedded, args: readonly string[]): string {
  const a = parseGdalArgs(args);
  const [dst, src, ...layers] = a.positional;
  if (!dst || !src) throw new GdalFailedError('ogr2ogr', ['a destination and a source are needed'], 1);
  const driver = a.options[a.options.indexOf('-f') + 1];
  if (a.options.includes('-f') && driver && !g.drivers.has(driver.toLowerCase()))
    throw new MissingToolError(
      `the embedded GDAL has no "${driver}" driver to write with; ${GDAL_INSTALL} (the system's GDAL is used whenever its ogr2ogr is on the PATH)`,
    );
  for (const o of [dst, ...a.options]) g.reach(o);
  // This build's PGDump writer turns a date before 1970 into 1900/01/00 (its reader is right): dates and times
  // go out as GDAL's text for them, which is what the system's PGDump writes and what COPY reads.
  const options =
    driver?.toLowerCase() === 'pgdump' && !a.options.includes('-fieldTypeToString')
      ? [...a.options, '-fieldTypeToString', 'Date,Time,DateTime']
      : a.options;
  return withConfig(g, a.config, () => {
    const ds = openSource('ogr2ogr', g, src, a.openOptions);
    // Its options parser takes what is not an option as layer names (the program takes the files out first).
    const argv = strings(g.M, [...options, ...layers]);
    const list = g.M._malloc(4);
    try {
      g.M.HEAPU32[list >> 2] = ds;
      const opts = g.fns.translateOptions(argv.ptr, 0) as number;
      if (!opts) throw failed('ogr2ogr', g, 'invalid options');
      try {
        const out = g.fns.translate(dst, 0, 1, list, opts, 0) as number;
        if (!out) throw failed('ogr2ogr', g, 'the translation failed');
        g.fns.close(out);
      } finally {
        g.fns.translateFree(opts);
      }
      return '';
    } finally {
      g.M._free(list);
      argv.free();
      g.fns.close(ds);
    }
  });
}

function ogrinfo(g: Embedded, args: readonly string[]): string {
  const a = parseGdalArgs(args);
  const [path, ...layers] = a.positional;
  if (!path) throw new GdalFailedError('ogrinfo', ['a file to describe is needed'], 1);
  return withConfig(g, a.config, () => {
    const ds = openSource('ogrinfo', g, path, a.openOptions);
    // Its options parser takes the file name first, as the program does, and the layers after it.
    const argv = strings(g.M, [...a.options, path, ...layers]);
    try {
      const opts = g.fns.infoOptions(argv.ptr, 0) as number;
      if (!opts) throw failed('ogrinfo', g, 'invalid options');
      try {
        const p = g.fns.info(ds, opts) as number;
        if (!p) throw failed('ogrinfo', g, 'no information');
        try {
          return g.M.UTF8ToString(p);
        } finally {
          g.M._free(p);
        }
      } finally {
        g.fns.infoFree(opts);
      }
    } finally {
      argv.free();
      g.fns.close(ds);
    }
  });
}

/** gdalsrsinfo as Strata uses it: does PROJ know this CRS, and its WKT or EPSG code. */
function gdalsrsinfo(g: Embedded, args: readonly string[]): string {
  const a = parseGdalArgs(args);
  const input = a.positional[0];
  const o = a.options.indexOf('-o');
  const format = o >= 0 ? a.options[o + 1] : 'wkt2';
  if (!input) throw new GdalFailedError('gdalsrsinfo', ['a CRS to describe is needed'], 1);
  const srs = g.fns.srsNew('') as number;
  try {
    if ((g.fns.srsSet(srs, input) as number) !== 0)
      throw failed('gdalsrsinfo', g, `failed to process SRS definition: ${input}`);
    if (format === 'epsg') {
      const code = /^EPSG:(\d+)$/i.exec(input)?.[1];
      return code ? `\nEPSG:${code}\n\n` : '\nEPSG:-1\n\n';
    }
    const out = g.M._malloc(4);
    try {
      g.fns.srsWkt(srs, out);
      const p = g.M.HEAPU32[out >> 2]!;
      const wkt = g.M.UTF8ToString(p);
      g.M._free(p);
      return `\n${wkt}\n\n`;
    } finally {
      g.M._free(out);
    }
  } finally {
    g.fns.srsFree(srs);
  }
}

const PROGRAMS = { ogr2ogr, ogrinfo, gdalsrsinfo } as const;

/**
 * GDAL compiled to WebAssembly (gdal3.js), in this process: for machines without the system's GDAL. It works
 * on files (the host's, mounted into its file system, so nothing is held in memory whole); it runs on the
 * calling thread and holds it while it works, and it is slower than the system's programs (the benchmark
 * says by how much). ogr2ogr's `/vsistdout/` becomes a work file, read back once written.
 */
export function embeddedGdal(version: string): GdalPort {
  const run = async (tool: GdalTool, args: readonly string[]) => {
    const g = await load();
    return g.call(tool, () => PROGRAMS[tool](g, args));
  };
  return {
    kind: 'embedded',
    version,
    run,
    stream(args) {
      const stdout = new PassThrough();
      let stopped = false;
      const done = (async () => {
        const dir = await mkdtemp(join(tmpdir(), 'strata-gdal-dump-'));
        try {
          const file = join(dir, 'dump.sql');
          await run(
            'ogr2ogr',
            args.map((a) => (a === '/vsistdout/' ? file : a)),
          );
          if (stopped) return;
          const read = createReadStream(file, { highWaterMark: 1 << 20 });
          await new Promise<void>((ok, fail) => {
            read.on('error', fail);
            stdout.on('close', ok);
            read.on('end', ok);
            read.pipe(stdout);
          });
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      })();
      done.catch((e: unknown) => stdout.destroy(e as Error)).catch(() => {});
      return {
        stdout,
        done,
        stop() {
          stopped = true;
          stdout.destroy();
        },
      };
    },
  };
}

/** Loads the WebAssembly now (for a benchmark that times its start apart). */
export async function loadEmbeddedGdal(): Promise<void> {
  await load();
}
