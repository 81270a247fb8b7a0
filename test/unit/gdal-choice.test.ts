import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGdalArgs } from '../../runtime/adapters/gdal/argv.ts';
import { chooseGdal, type GdalProbes, gdalChoice } from '../../runtime/adapters/gdal/choose.ts';
import { systemGdalVersion } from '../../runtime/adapters/gdal/native.ts';
import { embeddedPackage } from '../../runtime/adapters/gdal/wasm.ts';
import { MissingToolError, UsageError } from '../../runtime/errors.ts';
import { gdalLabel } from '../../runtime/ports/gdal.ts';

const machine = (system: string | undefined, embedded: string | undefined): GdalProbes => ({
  system: async () => system,
  embedded: () => embedded,
});

describe('choosing the GDAL', () => {
  it('takes the system GDAL wherever its ogr2ogr is on the PATH', async () => {
    const g = await chooseGdal('auto', machine('3.6.2', '3.8.4'));
    expect(g.kind).toBe('system');
    expect(gdalLabel(g)).toBe('GDAL 3.6.2 (system)');
  });

  it('takes the embedded GDAL when there is no ogr2ogr, and says how to be faster', async () => {
    const g = await chooseGdal('auto', machine(undefined, '3.8.4'));
    expect(g.kind).toBe('embedded');
    expect(gdalLabel(g)).toBe('GDAL 3.8.4 (embedded; install gdal-bin for speed)');
  });

  it('says what to install when there is neither', async () => {
    const e = await chooseGdal('auto', machine(undefined, undefined)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MissingToolError);
    expect((e as Error).message).toMatch(/ogr2ogr is not on the PATH.*apt-get install gdal-bin.*npm ci/);
  });

  it('obeys STRATA_GDAL when it forces one, and refuses a forced one that is missing', async () => {
    expect((await chooseGdal('embedded', machine('3.6.2', '3.8.4'))).kind).toBe('embedded');
    const noSystem = await chooseGdal('system', machine(undefined, '3.8.4')).catch((x: unknown) => x);
    expect((noSystem as Error).message).toMatch(/GDAL's ogr2ogr is not installed/);
    const noEmbedded = await chooseGdal('embedded', machine('3.6.2', undefined)).catch((x: unknown) => x);
    expect((noEmbedded as Error).message).toMatch(/STRATA_GDAL=embedded but .* not installed/);
  });

  it('reads STRATA_GDAL, refusing a value it does not know', () => {
    expect(gdalChoice(undefined)).toBe('auto');
    expect(gdalChoice('')).toBe('auto');
    expect(gdalChoice('embedded')).toBe('embedded');
    expect(() => gdalChoice('wasm')).toThrow(UsageError);
    expect(() => gdalChoice('wasm')).toThrow(/STRATA_GDAL must be system, embedded or auto, got: wasm/);
  });

  it('finds no system GDAL on a PATH without ogr2ogr', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(await systemGdalVersion()).toBeUndefined();
    } finally {
      process.env.PATH = path;
    }
    expect(await systemGdalVersion()).toMatch(/^3\.\d+/);
  });

  it('names the GDAL version the installed WebAssembly build was compiled from', async () => {
    const pkg = embeddedPackage();
    expect(pkg).toBeDefined();
    const wasm = await readFile(join(pkg!.dir, 'dist', 'package', 'gdal3WebAssembly.wasm'));
    // The build's source paths are in the binary: `.../src/gdal-3.8.4/ogr/...`.
    const built = /\/gdal-(\d+\.\d+\.\d+)\//.exec(wasm.toString('latin1'))?.[1];
    expect(pkg!.version).toBe(built);
  });
});

describe('command lines taken apart for the embedded GDAL', () => {
  it('keeps values with their options, and sets apart --config, -oo, -ro and the file names', () => {
    const a = parseGdalArgs([
      '--config',
      'PG_USE_COPY',
      'YES',
      '-f',
      'PGDump',
      '/vsistdout/',
      '/tmp/w/source.gpkg',
      'towns',
      '-oo',
      'IMMUTABLE=YES',
      '-lco',
      'SRID=27700',
      '-unsetFid',
      '-spat',
      '0',
      '0',
      '1',
      '1',
      '-ro',
    ]);
    expect(a.config).toEqual([['PG_USE_COPY', 'YES']]);
    expect(a.openOptions).toEqual(['IMMUTABLE=YES']);
    expect(a.readOnly).toBe(true);
    expect(a.positional).toEqual(['/vsistdout/', '/tmp/w/source.gpkg', 'towns']);
    expect(a.options).toEqual([
      '-f',
      'PGDump',
      '-lco',
      'SRID=27700',
      '-unsetFid',
      '-spat',
      '0',
      '0',
      '1',
      '1',
    ]);
  });

  it('refuses an option whose value is missing, naming it', () => {
    expect(() => parseGdalArgs(['a.gpkg', '-nln'])).toThrow('GDAL option -nln needs 1 value');
  });
});
