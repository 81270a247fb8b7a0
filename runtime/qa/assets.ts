import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { packagePath } from '../util/package-root.ts';

const require = createRequire(import.meta.url);

/** What every report page inlines, so it asks nothing of the network. */
export interface ReportAssets {
  /** Leaflet's stylesheet, with its image URLs taken out (the page draws no marker icons). */
  readonly leafletCss: string;
  /** The map script (Leaflet, topojson-client and ours), bundled and minified. */
  readonly script: string;
  /** Natural Earth's 1:110m country outlines (world-atlas), as TopoJSON: the map's light background. */
  readonly world: string;
}

let assets: Promise<ReportAssets> | undefined;

/** Bundled once per process (about a tenth of a second), from the sources beside this module. */
export function reportAssets(): Promise<ReportAssets> {
  assets ??= load().catch((e) => {
    assets = undefined;
    throw e;
  });
  return assets;
}

async function load(): Promise<ReportAssets> {
  const { build } = await import('esbuild');
  const bundled = await build({
    entryPoints: [packagePath('runtime', 'qa', 'client', 'map.ts')],
    absWorkingDir: packagePath(),
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    minify: true,
    write: false,
    legalComments: 'inline',
    logLevel: 'silent',
  });
  const css = await readFile(require.resolve('leaflet/dist/leaflet.css'), 'utf8');
  return {
    leafletCss: css.replace(/url\([^)]*\)/g, 'none'),
    script: bundled.outputFiles[0]!.text,
    world: await readFile(require.resolve('world-atlas/countries-110m.json'), 'utf8'),
  };
}
