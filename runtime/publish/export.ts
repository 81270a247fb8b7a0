import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Output } from '../catalog/schema.ts';
import { BuildError } from '../errors.ts';
import type { Database, RowCount } from '../ports/database.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { ident, literal, qualified } from '../util/sql.ts';

export interface PublishedFile {
  readonly name: string;
  readonly table: string;
  readonly format: 'csv' | 'geojson';
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
  readonly rows: number;
  /** SRID of the geometry in this file: the table's for CSV, 4326 for GeoJSON (RFC 7946). */
  readonly srid: number | null;
}

interface ColumnInfo {
  name: string;
  type: string;
}

async function describe(db: Database, schema: string, table: string): Promise<ColumnInfo[]> {
  const cols = await db.query<ColumnInfo>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [schema, table],
  );
  if (cols.length === 0)
    throw new BuildError(`output table "${table}" was not created by any step`, { step: 'export' });
  return cols;
}

/** Hashes and measures an export as it streams to the bucket, so nothing is read twice. */
function measured(
  source: AsyncIterable<Buffer>,
  stats: { size: number; hash: ReturnType<typeof createHash> },
) {
  return Readable.from(
    (async function* () {
      for await (const chunk of source) {
        stats.size += chunk.length;
        stats.hash.update(chunk);
        yield chunk;
      }
    })(),
  );
}

const SEPARATOR = Buffer.from(',\n');

/** `a\nb` → `a,\nb`, on bytes: every newline inside a body of whole lines gets a comma before it. */
function commaBeforeNewlines(body: Buffer): Buffer {
  let n = 0;
  for (let i = body.indexOf(10); i !== -1; i = body.indexOf(10, i + 1)) n++;
  if (n === 0) return body;
  const out = Buffer.allocUnsafe(body.length + n);
  let from = 0;
  let at = 0;
  for (let i = body.indexOf(10); i !== -1; i = body.indexOf(10, i + 1)) {
    at += body.copy(out, at, from, i);
    out[at++] = 0x2c;
    out[at++] = 10;
    from = i + 1;
  }
  body.copy(out, at, from);
  return out;
}

/** Wraps one-feature-a-line text into a FeatureCollection, streaming: `,` goes before every line but the first. */
async function* featureCollection(lines: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield Buffer.from('{"type":"FeatureCollection","features":[\n');
  let first = true;
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of lines) {
    const buf: Buffer = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    const end = buf.lastIndexOf(10);
    if (end === -1) {
      carry = buf;
      continue;
    }
    const body = buf.subarray(0, end);
    carry = buf.subarray(end + 1);
    if (!first) yield SEPARATOR;
    yield commaBeforeNewlines(body);
    first = false;
  }
  if (carry.length > 0) {
    if (!first) yield SEPARATOR;
    yield carry;
  }
  yield Buffer.from('\n]}\n');
}

/**
 * Streams one output table into the egress bucket in one format: COPY out of the database, hashed on the
 * way, never held whole in memory.
 */
export async function exportOutput(
  db: Database,
  store: ObjectStore,
  input: { schema: string; output: Output; format: 'csv' | 'geojson'; prefix: string },
): Promise<PublishedFile> {
  const { schema, output, format, prefix } = input;
  const columns = await describe(db, schema, output.table);
  const geom = columns.find((c) => c.name === output.geometry && c.type.startsWith('geometry'));
  const attrs = columns.filter((c) => c !== geom && !c.type.startsWith('geometry'));
  const source = qualified(schema, output.table);
  const order = output.orderBy ?? (attrs[0] ? [attrs[0].name] : []);
  const orderBy = order.length > 0 ? ` ORDER BY ${order.map(ident).join(', ')}` : '';
  const [sridRow] = geom
    ? await db
        .query<{ srid: number | null }>(`SELECT Find_SRID($1, $2, $3) AS srid`, [
          schema,
          output.table,
          geom.name,
        ])
        .catch(() => [{ srid: null }])
    : [{ srid: null }];

  let body: AsyncIterable<Buffer>;
  const count: RowCount = { rows: 0 };
  let srid: number | null = null;
  if (format === 'csv') {
    const fields = attrs.map((c) => `${ident(c.name)}::text AS ${ident(c.name)}`);
    if (geom && output.csvGeometry === 'wkt') {
      fields.push(`ST_AsText(${ident(geom.name)}) AS geometry`);
      srid = sridRow?.srid ?? null;
    } else if (geom && output.csvGeometry === 'lonlat') {
      const p = `ST_Transform(ST_PointOnSurface(${ident(geom.name)}), 4326)`;
      fields.push(`ST_X(${p})::text AS lon`, `ST_Y(${p})::text AS lat`);
      srid = 4326;
    }
    body = db.copyToCsv(`SELECT ${fields.join(', ')} FROM ${source}${orderBy}`, count);
  } else {
    srid = geom ? 4326 : null;
    // Built by concatenation: compact, in the columns' order, and faster than row_to_json or
    // json_build_object (which pads with spaces); jsonb would sort the keys.
    const properties =
      attrs.length === 0
        ? `'{}'`
        : `'{' || ${attrs.map((c, i) => `${literal(`${i > 0 ? ',' : ''}${JSON.stringify(c.name)}:`)} || coalesce(to_json(t.${ident(c.name)})::text, 'null')`).join(' || ')} || '}'`;
    const tableSrid = sridRow?.srid ?? null;
    const g = geom ? `t.${ident(geom.name)}` : '';
    const geometry = geom
      ? `coalesce(ST_AsGeoJSON(${tableSrid === 4326 ? g : `ST_Transform(${g}, 4326)`}), 'null')`
      : `'null'`;
    const tOrderBy = order.length > 0 ? ` ORDER BY ${order.map((c) => `t.${ident(c)}`).join(', ')}` : '';
    body = featureCollection(
      db.copyToLines(
        `SELECT '{"type":"Feature","properties":' || ${properties} || ',"geometry":' || ${geometry} || '}' FROM ${source} t${tOrderBy}`,
        count,
      ),
    );
  }

  const name = output.name ?? output.table;
  const key = `${prefix}${name}.${format === 'csv' ? 'csv' : 'geojson'}`;
  const stats = { size: 0, hash: createHash('sha256') };
  await store.put('egress', key, measured(body, stats), {
    contentType: format === 'csv' ? 'text/csv' : 'application/geo+json',
  });
  return {
    name,
    table: output.table,
    format,
    key,
    size: stats.size,
    sha256: stats.hash.digest('hex'),
    rows: count.rows,
    srid,
  };
}
