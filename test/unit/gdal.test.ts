import { describe, expect, it } from 'vitest';
import { resetGdalChoice, runGdal } from '../../runtime/adapters/gdal/facade.ts';
import { MissingToolError } from '../../runtime/errors.ts';
import { crsFromWkt, parseOgrinfo } from '../../runtime/load/gdal-info.ts';
import { wktHasZ } from '../../runtime/load/gdal-rows.ts';
import { gdalErrors } from '../../runtime/ports/gdal.ts';
import { shapefileFieldNames } from '../../runtime/publish/export-gdal.ts';

const OGRINFO = `INFO: Open of \`two.gpkg'
      using driver \`GPKG' successful.

Layer name: towns
Geometry: 3D Point
Feature Count: 3
Layer SRS WKT:
PROJCRS["OSGB36 / British National Grid",
    BASEGEOGCRS["OSGB36",
        ID["EPSG",4277]],
    ID["EPSG",27700]]
Data axis to CRS axis mapping: 1,2
FID Column = fid
Geometry Column = geom
code: String (0.0)
Name: with colon: String (12.0)
population: Integer64 (0.0) NOT NULL
ok: Integer(Boolean) (1.0)

Layer name: notes
Geometry: None
Feature Count: 0
Layer SRS WKT:
(unknown)
body: String (0.0)
written: Date
seen_at: DateTime NOT NULL
met: DateTime (+02:00)
`;

describe('GDAL plumbing', () => {
  it('reads ogrinfo: driver, and per layer its geometry, count, CRS and fields', () => {
    expect(parseOgrinfo(OGRINFO)).toEqual({
      driver: 'GPKG',
      layers: [
        {
          name: 'towns',
          geometry: '3D Point',
          featureCount: 3,
          crs: { name: 'OSGB36 / British National Grid', epsg: 27700 },
          fields: [
            { name: 'code', type: 'String' },
            { name: 'Name: with colon', type: 'String' },
            { name: 'population', type: 'Integer64' },
            { name: 'ok', type: 'Integer' },
          ],
        },
        {
          name: 'notes',
          geometry: 'None',
          featureCount: 0,
          crs: undefined,
          // GDAL 3.7 and later (the embedded one is 3.8) print no width after a date or a time, or its zone.
          fields: [
            { name: 'body', type: 'String' },
            { name: 'written', type: 'Date' },
            { name: 'seen_at', type: 'DateTime' },
            { name: 'met', type: 'DateTime' },
          ],
        },
      ],
    });
  });

  it("finds a CRS's EPSG code through a BOUNDCRS, and none when PROJ could not name it", () => {
    const bound = `BOUNDCRS[SOURCECRS[PROJCRS["OSGB 1936 / British National Grid",BASEGEOGCRS["OSGB 1936",ID["EPSG",4277]],ID["EPSG",27700]]],TARGETCRS[GEOGCRS["WGS 84",ID["EPSG",4326]]],ABRIDGEDTRANSFORMATION["Transformation from OSGB 1936 to WGS84",METHOD["Position Vector transformation (geog2D domain)",ID["EPSG",9606]]]]`;
    expect(crsFromWkt(bound)).toEqual({ name: 'OSGB 1936 / British National Grid', epsg: 27700 });
    expect(crsFromWkt('PROJCRS["My ""local"" grid",BASEGEOGCRS["x"]]')).toEqual({ name: 'My "local" grid' });
  });

  it("tells a geometry's Z from the head of its WKT, old-style or ISO, whole or cut short", () => {
    const z = [
      'POINT (3 4 5)',
      'POINT Z (3 4 5)',
      'POLYGON ((1 2 0,3 4 0,5 6 0,1 2 0))',
      'GEOMETRYCOLLECTION (POINT EMPTY,LINESTRING (1 2 3,4 5 6))',
      'MULTIPOINT ZM ((1 2 3 4))',
      'POINT Z EMPTY',
      'LINESTRING (1.5e-300 -2.25e+300 7,8 9',
    ];
    const flat = ['POINT (1 2)', 'POINT EMPTY', 'POINT M (1 2 3)', 'MULTIPOLYGON (((1 2,3 4', '\\N', ''];
    expect(z.filter((w) => !wktHasZ(w))).toEqual([]);
    expect(flat.filter(wktHasZ)).toEqual([]);
  });

  it('keeps GDAL error lines, and the line after a bare FAILURE:', () => {
    expect(
      gdalErrors("Warning 1: meh\nERROR 1: broken\nFAILURE:\nUnable to open datasource `x'\n  -> GPKG\n"),
    ).toEqual(['broken', "Unable to open datasource `x'"]);
  });

  it('says what to install when the system GDAL is asked for and not there', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      resetGdalChoice('system');
      const e = await runGdal('ogrinfo', ['--version']).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(MissingToolError);
      expect((e as Error).message).toMatch(/GDAL's ogr2ogr is not installed .*apt-get install gdal-bin/);
    } finally {
      process.env.PATH = path;
      resetGdalChoice();
    }
  });

  it('maps column names to at most 10 characters, unique ignoring case', () => {
    expect(
      shapefileFieldNames([
        'id',
        'population_total',
        'population_total_2020',
        'Population_x',
        'café name',
        '',
      ]),
    ).toEqual(['id', 'population', 'populati_1', 'Populati_2', 'caf__name', 'field']);
  });
});
