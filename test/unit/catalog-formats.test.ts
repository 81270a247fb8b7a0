import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../../runtime/catalog-files/loader.ts';
import { formatIssue } from '../../runtime/errors.ts';

async function problems(files: Record<string, string>): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-catalog-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  const { issues } = await loadCatalog(dir);
  return issues.map(formatIssue);
}

const columns = `columns:\n  - { name: code, type: text }\n`;

describe('catalog: formats, layers, CRS codes and options that cannot work, before any file arrives', () => {
  it('accepts every input format read through GDAL with the features own geometry', async () => {
    const files: Record<string, string> = {};
    for (const format of ['shapefile', 'gpkg', 'flatgeobuf', 'kml', 'geojsonseq'])
      files[`datasets/d_${format}.yaml`] =
        `name: d_${format}\nformat: ${format}\n${columns}geometry: { kind: geojson, sourceSrid: 27700, targetSrid: 4326 }\n`;
    files['datasets/d_layer.yaml'] =
      `name: d_layer\nformat: gpkg\ngdal: { layer: parcels }\n${columns}geometry: { kind: geojson }\n`;
    files['datasets/d_enc.yaml'] =
      `name: d_enc\nformat: shapefile\ngdal: { encoding: CP1252, overrideSrid: true }\n${columns}geometry: { kind: geojson, sourceSrid: 27700 }\n`;
    expect(await problems(files)).toEqual([]);
  });

  it('refuses an unknown format, lon/lat geometry for a GDAL format, and options the format cannot use', async () => {
    const out = await problems({
      'datasets/a.yaml': `name: a\nformat: xlsx\n${columns}geometry: { kind: none }\n`,
      'datasets/b.yaml': `name: b\nformat: shapefile\ncolumns:\n  - { name: x, type: double }\n  - { name: y, type: double }\ngeometry: { kind: lonlat, lon: x, lat: y }\n`,
      'datasets/c.yaml': `name: c\nformat: flatgeobuf\ngdal: { layer: roads }\n${columns}geometry: { kind: geojson }\n`,
      'datasets/d.yaml': `name: d\nformat: gpkg\ngdal: { encoding: CP1252 }\n${columns}geometry: { kind: geojson }\n`,
      'datasets/e.yaml': `name: e\nformat: csv\ngdal: { layer: x }\n${columns}geometry: { kind: none }\n`,
      'datasets/f.yaml': `name: f\nformat: gpkg\ngdal: { overrideSrid: true }\n${columns}geometry: { kind: geojson }\n`,
      'datasets/g.yaml': `name: g\nformat: shapefile\ngdal: { encoding: "latin 1" }\n${columns}geometry: { kind: geojson }\n`,
    });
    expect(out).toEqual([
      expect.stringMatching(
        /^datasets\/a\.yaml:2:9: format: Invalid option: expected one of "csv"\|"geojson"\|"shapefile"\|"gpkg"\|"flatgeobuf"\|"kml"\|"geojsonseq"/,
      ),
      'datasets/b.yaml:6:19: geometry.kind: a shapefile dataset takes geometry kind "geojson" (the features\' own geometry) or "none"',
      'datasets/c.yaml:3:16: gdal.layer: a flatgeobuf file holds one layer only: remove `gdal.layer`',
      'datasets/d.yaml:3:19: gdal.encoding: `gdal.encoding` applies to shapefiles only (gpkg files say their own encoding)',
      'datasets/e.yaml:3:7: gdal: `gdal` options apply only to formats read through GDAL (shapefile, gpkg, flatgeobuf, kml, geojsonseq), not csv',
      "datasets/f.yaml:3:23: gdal.overrideSrid: `gdal.overrideSrid` needs `geometry.sourceSrid`: the CRS to take instead of the file's",
      'datasets/g.yaml:3:19: gdal.encoding: must be an encoding name such as CP1252 or ISO-8859-1',
    ]);
  });

  it('refuses CRS codes PROJ does not know, wherever the catalog names one', async () => {
    const out = await problems({
      'datasets/a.yaml': `name: a\nformat: gpkg\n${columns}geometry: { kind: geojson, sourceSrid: 27700, targetSrid: 999999 }\n`,
      'datasets/b.yaml': `name: b\nformat: csv\ncolumns:\n  - { name: w, type: text }\ngeometry: { kind: wkt, column: w, sourceSrid: 9807 }\n`,
      'products/p/product.yaml': `name: p\ninputs: { a: a }\nchecks:\n  - { type: within_bbox, table: t, bbox: [0, 0, 1, 1], srid: 123456 }\noutputs:\n  - { table: t, formats: [gpkg, flatgeobuf, shapefile, geoparquet] }\n`,
      'products/p/010_t.sql': 'CREATE TABLE t AS SELECT * FROM a;',
    });
    expect(out).toEqual([
      'datasets/a.yaml:5:59: geometry.targetSrid: EPSG:999999 is not a coordinate reference system PROJ knows',
      'datasets/b.yaml:5:47: geometry.sourceSrid: EPSG:9807 is not a coordinate reference system PROJ knows',
      'products/p/product.yaml:4:62: checks[0].srid: EPSG:123456 is not a coordinate reference system PROJ knows',
    ]);
  });

  it('refuses an unknown output format and a format listed twice', async () => {
    const sql = 'CREATE TABLE t AS SELECT * FROM a;';
    const dataset = `name: a\nformat: geojson\n${columns}geometry: { kind: geojson }\n`;
    const unknown = await problems({
      'datasets/a.yaml': dataset,
      'products/p/product.yaml': `name: p\ninputs: { a: a }\noutputs:\n  - { table: t, formats: [gpkg, kmz] }\n`,
      'products/p/010_t.sql': sql,
    });
    expect(unknown).toEqual([
      expect.stringMatching(
        /^products\/p\/product\.yaml:4:33: outputs\[0\]\.formats\[1\]: Invalid option: expected one of "csv"\|"geojson"\|"gpkg"\|"flatgeobuf"\|"shapefile"\|"geoparquet"/,
      ),
    ]);
    const twice = await problems({
      'datasets/a.yaml': dataset,
      'products/p/product.yaml': `name: p\ninputs: { a: a }\noutputs:\n  - { table: t, name: u, formats: [csv, flatgeobuf, csv] }\n`,
      'products/p/010_t.sql': sql,
    });
    expect(twice).toEqual([
      'products/p/product.yaml:4:53: outputs[0].formats[2]: format "csv" is listed twice',
    ]);
  });
});
