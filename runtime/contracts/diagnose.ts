import { randomBytes } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import type { DatasetVersion } from '../archive/archive.ts';
import { MAX_POSITIONS, MAX_PROBLEMS, type Position, type Problem, type Rule } from '../archive/receipt.ts';
import { isGdalFormat } from '../catalog/formats.ts';
import type { Dataset } from '../catalog/schema.ts';
import { LoadError } from '../errors.ts';
import { recordChunks } from '../load/csv-records.ts';
import { HEAD_BYTES, wrongKind } from '../load/file-kind.ts';
import { gdalRows } from '../load/gdal-rows.ts';
import { withGdalLayer } from '../load/gdal-source.ts';
import { type FeatureText, featureTexts, GeoJsonStructureError } from '../load/geojson-features.ts';
import { FeatureProblemError, RowWriter } from '../load/geojson-rows.ts';
import { withHead } from '../load/load.ts';
import { GEOJSON_SRID, sourceName } from '../load/table.ts';
import type { CopyChunk, Database } from '../ports/database.ts';
import { GdalFailedError } from '../ports/gdal.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { countNewlines } from '../util/bytes.ts';
import { checkStaged } from './check-staged.ts';
import { cut, nounOf, problem, tableProblems } from './rules.ts';
import type { DiagnoseOptions } from './staged-rules.ts';

/**
 * Reads a file that broke its dataset's contract a second time, to list every problem rather than the first:
 * each row goes, as text, into a staging table of its own, and each rule of the contract is one SQL
 * condition over it, counted, with the first rows that break it. A good file never comes here: its load is
 * the fast one, and only a refusal (or an invalid geometry to point at) pays for this.
 */

export interface Diagnosis {
  /** Rows (CSV records, features of GeoJSON or a layer GDAL reads) in the file. */
  readonly rows: number;
  readonly problems: Problem[];
  readonly truncated: boolean;
  /** Geometries PostGIS finds invalid, whatever the policy, with the first few and their reasons. */
  readonly geometry: { invalid: number; at: Position[] } | undefined;
  readonly nonNull: Record<string, number>;
}

/** The file cannot be read row by row (its header, or its structure, is wrong): its first problem is all there is. */
export class NotDiagnosableError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NotDiagnosableError';
  }
}

/** Problems found while reading, before SQL sees the rows: counted per kind, with the first few. */
class Tally {
  private readonly kinds = new Map<
    string,
    { rule: Rule; column?: string; what: string; at: Position[]; count: number }
  >();
  add(rule: Rule, column: string | undefined, what: string, at: Position): void {
    const key = `${rule}\u0000${column ?? ''}\u0000${what}`;
    const k = this.kinds.get(key) ?? { rule, column, what, at: [], count: 0 };
    k.count++;
    if (k.at.length < MAX_POSITIONS) k.at.push(at);
    this.kinds.set(key, k);
  }
  problems(noun: string): Problem[] {
    return [...this.kinds.values()].map((k) => problem(k.rule, k.count, k.what, k.at, noun, k.column));
  }
}

const NEEDS_ESCAPE = /[\\\n\r\t]/;
/** One value in COPY text format. */
function copyText(v: string | null | undefined): string {
  if (v === null || v === undefined) return '\\N';
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/[\\\n\r\t]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t',
  );
}

/** Every problem of an archived file against its dataset's contract. */
export async function diagnose(
  db: Database,
  store: ObjectStore,
  dataset: Dataset,
  version: DatasetVersion,
  options: DiagnoseOptions = {},
): Promise<Diagnosis> {
  const staging = `strata_check_${randomBytes(6).toString('hex')}`;
  const noun = nounOf(dataset);
  const columns = dataset.columns.map((_, i) => `c${i}`);
  const withGeometry = dataset.format !== 'csv' && dataset.geometry.kind === 'geojson';
  return db.session(async () => {
    await db.exec(
      dataset.format !== 'csv'
        ? `CREATE TEMP TABLE ${staging} (_pos bigint GENERATED ALWAYS AS IDENTITY, ${[...columns, ...(withGeometry ? ['_g'] : [])].map((c) => `${c} text`).join(', ')})`
        : `CREATE TEMP TABLE ${staging} (_pos bigint, ${columns.map((c) => `${c} text`).join(', ')})`,
    );
    try {
      const tally = new Tally();
      const skipped: number[] = [];
      let rows: number;
      // A format read through GDAL is judged in the CRS the file says, as its load read it.
      let judged = dataset;
      let layer: string | undefined;
      if (isGdalFormat(dataset.format)) {
        const filled = await fillFromGdal(db, store, staging, dataset, version, withGeometry);
        ({ rows, dataset: judged, layer } = filled);
      } else {
        const stream = await store.get('archive', version.key);
        const { head, all: source } = await withHead(stream[Symbol.asyncIterator](), HEAD_BYTES);
        // A file of another kind was refused by the load for that; reading it row by row says nothing more.
        const wrong = wrongKind(dataset, head);
        if (wrong) {
          stream.destroy();
          throw new NotDiagnosableError(wrong);
        }
        rows =
          dataset.format === 'csv'
            ? await fillFromCsv(db, staging, dataset, source, tally)
            : await fillFromGeoJson(db, staging, dataset, source, tally, skipped, withGeometry);
      }
      const checked = await checkStaged(db, staging, judged, skipped, options, layer);
      const all = [
        ...(options.geometryOnly ? [] : tally.problems(noun)),
        ...checked.problems,
        ...(options.geometryOnly || options.waive
          ? []
          : tableProblems(dataset, { rows, nonNull: checked.nonNull }, options.current)),
      ];
      return {
        rows,
        problems: all.slice(0, MAX_PROBLEMS),
        truncated: all.length > MAX_PROBLEMS,
        geometry: checked.geometry,
        nonNull: checked.nonNull,
      };
    } finally {
      await db.exec(`DROP TABLE IF EXISTS pg_temp.${staging}`).catch(() => {});
    }
  });
}

/** The dataset's column for each field of the header, in order; a header that does not name them is not diagnosable. */
function csvHeader(dataset: Dataset, first: Buffer): number[] {
  let header: string[];
  try {
    header =
      (
        parseCsv(first.toString('utf8').replace(/^\uFEFF/, ''), {
          delimiter: dataset.csv.delimiter,
          relax_column_count: true,
        }) as string[][]
      )[0] ?? [];
  } catch (e) {
    throw new NotDiagnosableError(`the header row is not valid CSV: ${(e as Error).message}`);
  }
  const bySource = new Map(dataset.columns.map((c, i) => [sourceName(c), i]));
  const order = header.map((h) => bySource.get(h.trim()));
  if (
    order.length !== dataset.columns.length ||
    new Set(order).size !== order.length ||
    order.includes(undefined)
  )
    throw new NotDiagnosableError("the header does not name the dataset's columns");
  return order as number[];
}

/** CSV records as text rows with their line, in the dataset's column order. Returns the records read. */
async function fillFromCsv(
  db: Database,
  staging: string,
  dataset: Dataset,
  source: AsyncIterable<Buffer>,
  tally: Tally,
): Promise<number> {
  const chunks = recordChunks(source);
  const first = await chunks.next();
  if (first.done) return 0;
  let order: number[];
  try {
    order = csvHeader(dataset, first.value.data);
  } catch (e) {
    await chunks.return(undefined);
    throw e;
  }
  // The line the next record starts on.
  let line = countNewlines(first.value.data) + 1;
  let rows = 0;
  async function* body(): AsyncGenerator<CopyChunk> {
    for await (const chunk of chunks) {
      const records = csvRecords(dataset, chunk.data, line);
      let out = '';
      let n = 0;
      let previousEnd = 0;
      for (const { record, info } of records) {
        const at = line + previousEnd;
        previousEnd = info.lines;
        rows++;
        const row = csvRow(record, order, at, tally);
        if (row === undefined) continue;
        out += row;
        n++;
      }
      line += countNewlines(chunk.data);
      if (n > 0) yield { data: Buffer.from(out), rows: n };
    }
  }
  const list = dataset.columns.map((_, i) => `c${i}`).join(', ');
  await db.copyFrom(`${staging} (_pos, ${list})`, '', body());
  return rows;
}

/** A chunk of whole CSV records, each with the lines it ends on; `line` is where the chunk starts. */
function csvRecords(
  dataset: Dataset,
  data: Buffer,
  line: number,
): { record: (string | null)[]; info: { lines: number } }[] {
  try {
    return parseCsv(data, {
      delimiter: dataset.csv.delimiter,
      relax_column_count: true,
      relax_quotes: true,
      info: true,
      cast: (value: string, context: { quoting: boolean }) =>
        context.quoting || value !== '' ? value : null,
    }) as unknown as { record: (string | null)[]; info: { lines: number } }[];
  } catch (e) {
    throw new NotDiagnosableError(`the file is not valid CSV after line ${line}: ${(e as Error).message}`);
  }
}

/** One record as a COPY text line in the dataset's column order, or undefined (tallied) when it cannot be one. */
function csvRow(record: (string | null)[], order: number[], at: number, tally: Tally): string | undefined {
  const width = order.length;
  if (record.length !== width) {
    tally.add('fields', undefined, `with a different number of fields than the header (${width})`, {
      line: at,
      value: `${record.length} fields`,
    });
    return undefined;
  }
  const bad = record.find((v) => v?.includes('\uFFFD'));
  if (bad !== undefined) {
    tally.add('encoding', undefined, 'with bytes that are not UTF-8', { line: at, value: cut(bad ?? '') });
    return undefined;
  }
  const values: (string | null)[] = new Array(width);
  for (let k = 0; k < width; k++) values[order[k]!] = record[k]!;
  return `${at}\t${values.map(copyText).join('\t')}\n`;
}

/**
 * A layer's features as text rows, numbered in the order ogr2ogr reads them (the load's order, so feature N
 * here is feature N of a refusal of the load): the geometry as hex EWKB in the file's CRS, then the fields.
 */
async function fillFromGdal(
  db: Database,
  store: ObjectStore,
  staging: string,
  dataset: Dataset,
  version: DatasetVersion,
  withGeometry: boolean,
): Promise<{ rows: number; dataset: Dataset; layer: string }> {
  try {
    return await withGdalLayer(store, dataset, version, {}, async (layer) => {
      const list = [...(withGeometry ? ['_g'] : []), ...dataset.columns.map((_, i) => `c${i}`)].join(', ');
      const rows = await db.copyFrom(`${staging} (${list})`, '', gdalRows(layer));
      return { rows, dataset: layer.dataset, layer: layer.layer.name };
    });
  } catch (e) {
    // What stopped the load (a layer GDAL cannot read, a field missing) stops this reading too.
    if (e instanceof LoadError) throw new NotDiagnosableError(e.problem.reason);
    if (e instanceof GdalFailedError)
      throw new NotDiagnosableError(`GDAL could not read the layer: ${e.errors.join('; ') || e.message}`);
    throw e;
  }
}

/** GeoJSON features as text rows, numbered in order; a feature that cannot be made a row leaves a placeholder. */
async function fillFromGeoJson(
  db: Database,
  staging: string,
  dataset: Dataset,
  source: AsyncIterable<Buffer>,
  tally: Tally,
  skipped: number[],
  withGeometry: boolean,
): Promise<number> {
  const g = dataset.geometry;
  // The rows the load makes, but every value lands as text: SQL then tells which would not fit.
  const writer = new RowWriter({
    types: dataset.columns.map((c) => c.type),
    keys: dataset.columns.map(sourceName),
    srid: g.kind === 'geojson' ? (g.sourceSrid ?? GEOJSON_SRID) : GEOJSON_SRID,
    withGeometry,
  });
  const placeholder: FeatureText = {
    text: Buffer.alloc(0),
    type: 'Feature',
    geometry: null,
    properties: undefined,
    problem: undefined,
  };
  let index = 0;
  async function* body(): AsyncGenerator<CopyChunk> {
    for await (const ft of featureTexts(source)) {
      try {
        writer.add(ft, index);
      } catch (e) {
        if (!(e instanceof FeatureProblemError)) throw e;
        const { column, reason } = e.problem;
        if (column === 'geometry')
          tally.add('geometry', 'geometry', 'whose geometry cannot be read', {
            feature: index,
            detail: reason,
          });
        else tally.add('file', column, 'that are not readable features', { feature: index, detail: reason });
        writer.add(placeholder, index);
        skipped.push(index + 1);
      }
      index++;
      if (writer.size >= 4 << 20) yield writer.take();
    }
    if (writer.rows > 0) yield writer.take();
  }
  const list = [...dataset.columns.map((_, i) => `c${i}`), ...(withGeometry ? ['_g'] : [])].join(', ');
  try {
    await db.copyFrom(`${staging} (${list})`, '', body());
  } catch (e) {
    if (e instanceof GeoJsonStructureError) throw new NotDiagnosableError(e.message);
    throw e;
  }
  return index;
}
