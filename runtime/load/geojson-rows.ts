import type { ColumnType } from '../catalog/schema.ts';
import type { FeatureText } from './geojson-features.ts';
import { geometryToEwkb } from './geojson-geometry.ts';
import { GeometryError, geojsonToEwkb, writer } from './wkb.ts';

/** What a row needs to know of its dataset; plain data, so it can be posted to a worker thread. */
export interface RowSpec {
  readonly types: readonly ColumnType[];
  /** The property each column is read from. */
  readonly keys: readonly string[];
  readonly srid: number;
  readonly withGeometry: boolean;
}

/** A feature the rows cannot be made from: which one, which member, why. */
export interface FeatureProblem {
  readonly feature: number;
  readonly column?: string;
  readonly reason: string;
}

export class FeatureProblemError extends Error {
  constructor(readonly problem: FeatureProblem) {
    super(problem.reason);
    this.name = 'FeatureProblemError';
  }
}

const NEEDS_ESCAPE = /[\\\n\r\t]/;
function escapeText(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[\\\n\r\t]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t',
  );
}

/**
 * Marks an integer kept as its digits: JSON.parse would round one past 2^53 to the nearest double, so such
 * numbers are read as strings holding this mark and their digits. PostgreSQL text cannot hold NUL, so no
 * real value begins with it.
 */
const DIGITS = '\u0000digits:';
/** An integer token of 16 digits or more (a fraction's or exponent's digits are preceded by . e + -). */
const LONG_INTEGER = /(?<![\d.eE+-])-?\d{16,}(?![\d.eE])/;

/**
 * JSON.parse, but integers beyond a double's exact range keep every digit (marked with DIGITS). Only text
 * holding a long integer is scanned; strings are skipped whole, so digits inside them stay text.
 */
export function parseKeepingIntegers(text: string): unknown {
  if (!LONG_INTEGER.test(text)) return JSON.parse(text);
  let out = '';
  let last = 0;
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; ) i += text[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      let j = i + 1;
      while (j < text.length && /[\d.eE+-]/.test(text[j]!)) j++;
      const token = text.slice(i, j);
      if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${text.slice(last, i)}"\\u0000digits:${token}"`;
        last = j;
      }
      i = j;
    } else i++;
  }
  return JSON.parse(out + text.slice(last));
}

/** JSON text of a value, a marked integer written back as its digits. */
const jsonText = (value: unknown) => JSON.stringify(value).replace(/"\\u0000digits:(-?\d+)"/g, '$1');

/** One value in COPY text format. */
function copyValue(value: unknown, type: ColumnType): string {
  if (value === null || value === undefined) return '\\N';
  if (type === 'json') return escapeText(jsonText(value));
  switch (typeof value) {
    case 'string':
      return value.startsWith(DIGITS) ? value.slice(DIGITS.length) : escapeText(value);
    case 'number':
    case 'boolean':
      return String(value);
    default:
      return escapeText(jsonText(value));
  }
}

/**
 * Writes features as COPY text rows into one growing buffer: properties parsed with JSON.parse (long integers kept whole), geometry
 * read straight to EWKB and written as hex with no string in between.
 */
export class RowWriter {
  private out = Buffer.allocUnsafe(1 << 20);
  private at = 0;
  rows = 0;

  constructor(private readonly spec: RowSpec) {}

  get size(): number {
    return this.at;
  }

  private room(n: number): void {
    if (this.at + n <= this.out.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.at + n));
    this.out.copy(next, 0, 0, this.at);
    this.out = next;
  }

  /** Writes one feature's row; a feature that fails writes nothing, so a caller may go on to the next. */
  add(ft: FeatureText, index: number): void {
    const start = this.at;
    const fail = (reason: string, column?: string): never => {
      this.at = start;
      throw new FeatureProblemError({ feature: index, column, reason });
    };
    if (ft.problem !== undefined) fail(ft.problem);
    if (ft.type !== 'Feature') fail(`expected "type": "Feature", got ${JSON.stringify(ft.type ?? null)}`);
    let props: Record<string, unknown> = {};
    if (ft.properties) {
      try {
        props = parseKeepingIntegers(ft.text.toString('utf8', ft.properties[0], ft.properties[1])) as Record<
          string,
          unknown
        >;
      } catch (e) {
        fail(`invalid JSON in properties: ${(e as Error).message}`, 'properties');
      }
      if (props === null || typeof props !== 'object' || Array.isArray(props))
        fail('properties must be an object or null', 'properties');
    }
    const { types, keys } = this.spec;
    let fields = '';
    for (let i = 0; i < types.length; i++)
      fields += `${i > 0 ? '\t' : ''}${copyValue(props[keys[i]!], types[i]!)}`;
    this.room(Buffer.byteLength(fields) + 2);
    this.at += this.out.write(fields, this.at);
    if (this.spec.withGeometry) {
      let written = false;
      try {
        if (ft.geometry) {
          written = geometryToEwkb(ft.text, ft.geometry[0], ft.geometry[1], this.spec.srid);
          // Shapes the fast reader leaves alone are parsed whole, which also says precisely what is wrong.
          if (!written) {
            let geometry: unknown;
            try {
              geometry = JSON.parse(ft.text.toString('utf8', ft.geometry[0], ft.geometry[1]));
            } catch (e) {
              fail(`invalid JSON in geometry: ${(e as Error).message}`, 'geometry');
            }
            written = geojsonToEwkb(geometry, this.spec.srid);
          }
        }
      } catch (e) {
        if (e instanceof GeometryError) fail(e.message, 'geometry');
        throw e;
      }
      this.room(writer.length * 2 + 4);
      if (types.length > 0) this.out[this.at++] = 0x09;
      if (written) this.at = writer.hexInto(this.out, this.at);
      else this.at += this.out.write('\\N', this.at);
    }
    this.out[this.at++] = 0x0a;
    this.rows++;
  }

  /** The rows written since the last take, as their own buffer. */
  take(): { data: Buffer; rows: number } {
    const data = Buffer.from(this.out.subarray(0, this.at));
    const rows = this.rows;
    this.at = 0;
    this.rows = 0;
    return { data, rows };
  }
}

/** Features packed for a worker thread: their bytes end to end, and where each feature and member lies. */
export interface FeatureBatch {
  readonly bytes: Uint8Array;
  /** Per feature: start, end, geometry start, geometry end, properties start, properties end (-1 absent, -2 null). */
  readonly spans: Int32Array;
  readonly types: readonly (string | undefined)[];
  /** Per feature: why it cannot be read at all, or undefined. */
  readonly problems: readonly (string | undefined)[];
  readonly firstIndex: number;
}

export function unpack(batch: FeatureBatch): FeatureText[] {
  const bytes = Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.byteLength);
  const out: FeatureText[] = [];
  const span = (a: number, b: number) => (a === -1 ? undefined : a === -2 ? null : ([a, b] as const));
  for (let k = 0; k < batch.types.length; k++) {
    const s = batch.spans.subarray(k * 6, k * 6 + 6);
    out.push({
      text: bytes.subarray(s[0]!, s[1]!),
      type: batch.types[k],
      geometry: span(s[2]!, s[3]!),
      properties: span(s[4]!, s[5]!),
      problem: batch.problems[k],
    });
  }
  return out;
}

/** Collects features into batches for a worker thread. */
export class BatchBuilder {
  private parts: Buffer[] = [];
  private bytes = 0;
  private spans: number[] = [];
  private types: (string | undefined)[] = [];
  private problems: (string | undefined)[] = [];
  private first = -1;

  get count(): number {
    return this.types.length;
  }
  get size(): number {
    return this.bytes;
  }

  add(ft: FeatureText, index: number): void {
    if (this.first === -1) this.first = index;
    const base = this.bytes;
    const member = (s: FeatureText['geometry']) =>
      s === undefined ? [-1, -1] : s === null ? [-2, -2] : [s[0], s[1]];
    this.parts.push(ft.text);
    this.bytes += ft.text.length;
    this.spans.push(base, base + ft.text.length, ...member(ft.geometry), ...member(ft.properties));
    this.types.push(ft.type);
    this.problems.push(ft.problem);
  }

  take(): FeatureBatch {
    const all = Buffer.concat(this.parts, this.bytes);
    // Member spans stay relative to their feature's own text, which `unpack` slices out again.
    const spans = Int32Array.from(this.spans);
    const batch = {
      bytes: new Uint8Array(all.buffer, all.byteOffset, all.byteLength),
      spans,
      types: this.types,
      problems: this.problems,
      firstIndex: this.first,
    };
    this.parts = [];
    this.bytes = 0;
    this.spans = [];
    this.types = [];
    this.problems = [];
    this.first = -1;
    return batch;
  }
}
