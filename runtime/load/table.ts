import type { Column, ColumnType, Dataset } from '../catalog/schema.ts';
import { ident, literal, qualified } from '../util/sql.ts';

export const DATASETS_SCHEMA = 'datasets';
/** Where a parallel load fills its table before it is moved into `datasets` (sql/003_loading.sql). */
export const LOADING_SCHEMA = 'strata_loading';

export const PG_TYPES: Record<ColumnType, string> = {
  text: 'text',
  integer: 'integer',
  bigint: 'bigint',
  numeric: 'numeric',
  double: 'double precision',
  boolean: 'boolean',
  date: 'date',
  timestamp: 'timestamptz',
  json: 'jsonb',
};

/** GeoJSON's CRS when a dataset declares none (RFC 7946); a format read through GDAL says its own. */
export const GEOJSON_SRID = 4326;

/** The table holding one loaded dataset version: `datasets."<name>@<version>"`. */
export const versionTable = (dataset: string, version: string) => `${dataset}@${version}`;

/** Constraint names carry their column and rule, so a refusal can be told back as a field and a reason. */
export function constraintName(column: string, rule: string): string {
  return `${column}__${rule}`;
}

function columnDDL(c: Column, forceRequired: boolean, lonLat?: 'lon' | 'lat'): string {
  const parts = [ident(c.name), PG_TYPES[c.type]];
  if (c.required || forceRequired) parts.push('NOT NULL');
  if (c.unique) parts.push('UNIQUE');
  if (c.min !== undefined)
    parts.push(
      `CONSTRAINT ${ident(constraintName(c.name, 'min'))} CHECK (${ident(c.name)} >= ${literal(c.min)})`,
    );
  if (c.max !== undefined)
    parts.push(
      `CONSTRAINT ${ident(constraintName(c.name, 'max'))} CHECK (${ident(c.name)} <= ${literal(c.max)})`,
    );
  if (c.values) {
    const list = c.values.map((v) => literal(typeof v === 'number' ? v : String(v))).join(', ');
    parts.push(`CONSTRAINT ${ident(constraintName(c.name, 'values'))} CHECK (${ident(c.name)} IN (${list}))`);
  }
  if (lonLat) {
    const bound = lonLat === 'lon' ? 180 : 90;
    parts.push(
      `CONSTRAINT ${ident(constraintName(c.name, `${lonLat}_range`))} CHECK (${ident(c.name)} BETWEEN -${bound} AND ${bound})`,
    );
  }
  return parts.join(' ');
}

/** Describes why a named constraint refused a value, in the catalog's own terms. */
export function explainConstraint(
  dataset: Dataset,
  constraint: string,
): { column: string; reason: string } | undefined {
  const m = /^(.+)__(min|max|values|lon_range|lat_range|lonlat_range)$/.exec(constraint);
  if (!m) return undefined;
  const column = m[1]!;
  const c = dataset.columns.find((x) => x.name === column);
  switch (m[2]) {
    case 'min':
      return { column, reason: `value is below the minimum of ${c?.min}` };
    case 'max':
      return { column, reason: `value is above the maximum of ${c?.max}` };
    case 'values':
      return { column, reason: `value is not one of ${JSON.stringify(c?.values)}` };
    case 'lonlat_range':
      return {
        column,
        reason:
          'coordinates must be within longitude -180..180 and latitude -90..90 (are x and y swapped, or is the CRS not WGS84?)',
      };
    case 'lon_range':
      return {
        column,
        reason: 'longitude must be between -180 and 180 (are lon and lat swapped, or is the CRS not WGS84?)',
      };
    default:
      return {
        column,
        reason: 'latitude must be between -90 and 90 (are lon and lat swapped, or is the CRS not WGS84?)',
      };
  }
}

/** SQL true where geometry `g` lies within longitude -180..180 and latitude -90..90 (NaN and infinities do not). */
export const inLonLatRange = (g: string) =>
  `(ST_XMin(${g}) >= -180 AND ST_XMax(${g}) <= 180 AND ST_YMin(${g}) >= -90 AND ST_YMax(${g}) <= 90)`;

/** The check that keeps a geometry read in WGS84 within its range, as the lon/lat columns of a CSV are kept. */
const LONLAT_CHECK = constraintName('geom', 'lonlat_range');

function typmod(g: { type?: string; dimensions: 2 | 3 }): string {
  return `${g.type ?? 'Geometry'}${g.dimensions === 3 ? 'Z' : ''}`;
}

function geometryExpression(dataset: Dataset): string | undefined {
  const g = dataset.geometry;
  const transform = (expr: string, src: number, tgt: number) =>
    src === tgt ? expr : `ST_Transform(${expr}, ${tgt})`;
  if (g.kind === 'lonlat')
    return transform(
      `ST_SetSRID(ST_MakePoint(${ident(g.lon)}, ${ident(g.lat)}), ${g.sourceSrid})`,
      g.sourceSrid,
      g.targetSrid,
    );
  if (g.kind === 'wkt')
    return transform(`ST_GeomFromText(${ident(g.column)}, ${g.sourceSrid})`, g.sourceSrid, g.targetSrid);
  return undefined;
}

/**
 * DDL for a dataset version's table. CSV geometry is a stored generated column, so PostgreSQL builds it
 * during COPY in one pass; GeoJSON geometry arrives ready (as EWKB) in the source SRID.
 */
export function createTableSQL(dataset: Dataset, table: string, schema = DATASETS_SCHEMA): string {
  const g = dataset.geometry;
  const lonLat = (name: string): 'lon' | 'lat' | undefined =>
    g.kind === 'lonlat' && g.sourceSrid === 4326
      ? name === g.lon
        ? 'lon'
        : name === g.lat
          ? 'lat'
          : undefined
      : undefined;
  const geomRefs = g.kind === 'lonlat' ? [g.lon, g.lat] : g.kind === 'wkt' ? [g.column] : [];
  const required = g.kind !== 'none' && g.required;
  const cols = dataset.columns.map((c) =>
    columnDDL(c, required && geomRefs.includes(c.name), lonLat(c.name)),
  );
  if (g.kind === 'lonlat') {
    cols.push(
      `geom geometry(Point, ${g.targetSrid}) GENERATED ALWAYS AS (${geometryExpression(dataset)}) STORED`,
    );
  } else if (g.kind === 'wkt') {
    cols.push(
      `geom geometry(${typmod(g)}, ${g.targetSrid}) GENERATED ALWAYS AS (${geometryExpression(dataset)}) STORED`,
    );
  } else if (g.kind === 'geojson') {
    const srid = g.sourceSrid ?? GEOJSON_SRID;
    // Checked as each row arrives, before a reprojection could fail on it (ST_Transform of latitude 95).
    const range = srid === 4326 ? ` CONSTRAINT ${ident(LONLAT_CHECK)} CHECK (${inLonLatRange('geom')})` : '';
    cols.push(`geom geometry(${typmod(g)}, ${srid})${g.required ? ' NOT NULL' : ''}${range}`);
  }
  return `CREATE TABLE ${qualified(schema, table)} (\n  ${cols.join(',\n  ')}\n)`;
}

/**
 * Statements that finish a loaded table: reprojection (GeoJSON) and a spatial index. Statistics are
 * gathered by the first build that reads the table (see `analyzeInputs`), not here: ANALYZE costs a fifth
 * of a load, and a version nobody builds from never needs them.
 */
export function finishTableSQL(dataset: Dataset, table: string, options: { index: boolean }): string[] {
  const g = dataset.geometry;
  const t = qualified(DATASETS_SCHEMA, table);
  const out: string[] = [];
  const source = g.kind === 'geojson' ? (g.sourceSrid ?? GEOJSON_SRID) : undefined;
  if (g.kind === 'geojson' && source !== g.targetSrid)
    out.push(
      `ALTER TABLE ${t} ${source === 4326 ? `DROP CONSTRAINT ${ident(LONLAT_CHECK)}, ` : ''}ALTER COLUMN geom TYPE geometry(${typmod(g)}, ${g.targetSrid}) USING ST_Transform(geom, ${g.targetSrid})`,
    );
  if (g.kind !== 'none' && options.index) out.push(`CREATE INDEX ON ${t} USING gist (geom)`);
  return out;
}

/** The header or property name a column is read from. */
export const sourceName = (c: Column) => c.source ?? c.name;
