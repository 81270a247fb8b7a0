import { BACKSLASH, COLON, COMMA, LBRACE, LBRACKET, QUOTE, RBRACE, RBRACKET } from './json-bytes.ts';

/** Bytes that change nesting or start a string: 1, everything else 0. */
const STRUCTURAL = new Uint8Array(256);
for (const c of [QUOTE, LBRACE, RBRACE, LBRACKET, RBRACKET]) STRUCTURAL[c] = 1;

export class GeoJsonStructureError extends Error {
  constructor(
    message: string,
    readonly feature?: number,
  ) {
    super(message);
    this.name = 'GeoJsonStructureError';
  }
}

/** Where a member's value lies in a feature's bytes: [start, end), or null when the value is not an object. */
export type Span = readonly [number, number] | null;

/** One feature's bytes, and what the scan saw of its own members on the way. */
export interface FeatureText {
  readonly text: Buffer;
  /** The `"type"` member's string, if it had one. */
  readonly type: string | undefined;
  /** The `"geometry"` member: undefined when absent, null when not an object (e.g. `null`). */
  readonly geometry: Span | undefined;
  readonly properties: Span | undefined;
  /** Why the feature cannot be read at all (it nests too deep), or undefined. */
  readonly problem: string | undefined;
}

/**
 * Arrays and objects a feature may nest inside itself. A MultiPolygon's coordinates take 5 levels and a
 * JSON property rarely 20; 64 is far beyond real data, yet keeps every recursive reader after this scan
 * (JSON.stringify of a property, the geometry readers, PostGIS's limit of 200 chained collections) well
 * within its stack, where a hostile feature nested 100,000 deep would overflow it.
 */
export const MAX_FEATURE_NESTING = 64;
const TOO_DEEP = `the feature nests arrays and objects more than ${MAX_FEATURE_NESTING} levels deep`;

/** What the byte being read is part of, when it has to be read character by character. */
type Capture = 'key1' | 'type1' | 'key3' | 'type3';

const WORDS = {
  type: Buffer.from('type'),
  features: Buffer.from('features'),
  geometry: Buffer.from('geometry'),
  properties: Buffer.from('properties'),
  Feature: Buffer.from('Feature'),
};
/** Keys and short values are compared as bytes: turning each into a string would cost one allocation a key. */
const CAPTURE_MAX = 64;
function is(cap: Uint8Array, len: number, word: Buffer): boolean {
  if (len !== word.length) return false;
  for (let k = 0; k < len; k++) if (cap[k] !== word[k]) return false;
  return true;
}
function keyOf(cap: Uint8Array, len: number): string {
  if (is(cap, len, WORDS.type)) return 'type';
  if (is(cap, len, WORDS.features)) return 'features';
  if (is(cap, len, WORDS.geometry)) return 'geometry';
  if (is(cap, len, WORDS.properties)) return 'properties';
  return '';
}

/**
 * The scan's state from one buffer to the next. Depths: 1 is the collection object, 2 the features array,
 * 3 a feature object, 4+ inside its members. Keys and values are followed at depth 1 (the collection's:
 * `features`, `type`) and depth 3 (a feature's: `type`, `geometry`, `properties`); deeper, only brackets and
 * strings. Fields of one class, not variables a closure captures: V8 reads the first as fast as locals.
 */
class FeatureScan {
  depth = 0;
  inString = false;
  escaped = false;
  capture: Capture | undefined = undefined;
  readonly cap = new Uint8Array(CAPTURE_MAX);
  capLen = 0;
  key1 = '';
  awaiting1 = false;
  inFeatures = false;
  sawFeatures = false;
  type1: string | undefined = undefined;
  key3 = '';
  awaiting3 = false;
  type3: string | undefined = undefined;
  valueStart = -1;
  valueKey = '';
  geometry: Span | undefined = undefined;
  properties: Span | undefined = undefined;
  featureParts: Buffer[] = [];
  featureBytes = 0;
  featureStart = -1;
  index = 0;
  tooDeep = false;

  constructor(readonly maxFeatureBytes: number) {}

  /** Scans one buffer, yielding each feature as its closing brace is read. */
  *scan(buf: Buffer): Generator<FeatureText> {
    const n = buf.length;
    let i = 0;
    while (i < n) {
      if (this.depth >= 4 && !this.inString) {
        // Inside a feature's member only brackets and strings matter: skip numbers, commas and spaces.
        while (i < n && STRUCTURAL[buf[i]!] === 0) i++;
        if (i === n) break;
      }
      if (this.inString) {
        i = this.capture === undefined ? this.skipString(buf, i) : this.captureString(buf, i);
        continue;
      }
      const feature = this.byte(buf, buf[i]!, i);
      if (feature) yield feature;
      i++;
    }
    this.keepPartial(buf);
  }

  /** A string we need not read: jumps from quote to quote, skipping escaped ones. Returns where to go on. */
  private skipString(buf: Buffer, i: number): number {
    if (this.escaped) {
      this.escaped = false;
      return i + 1;
    }
    let q = buf.indexOf(QUOTE, i);
    while (q !== -1 && backslashesBefore(buf, q, i) % 2 === 1) q = buf.indexOf(QUOTE, q + 1);
    if (q === -1) {
      this.escaped = backslashesBefore(buf, buf.length, i) % 2 === 1;
      return buf.length;
    }
    this.inString = false;
    return q + 1;
  }

  /** One byte of a key or short value being read; at its closing quote, what it was is kept. */
  private captureString(buf: Buffer, i: number): number {
    const c = buf[i]!;
    if (this.escaped) this.escaped = false;
    else if (c === BACKSLASH) this.escaped = true;
    else if (c === QUOTE) {
      this.inString = false;
      const len = Math.min(this.capLen, CAPTURE_MAX);
      const cap = this.cap;
      if (this.capture === 'key1') this.key1 = keyOf(cap, len);
      else if (this.capture === 'key3') this.key3 = keyOf(cap, len);
      else if (this.capture === 'type3')
        this.type3 = is(cap, len, WORDS.Feature)
          ? 'Feature'
          : Buffer.from(cap.subarray(0, len)).toString('utf8');
      else this.type1 = Buffer.from(cap.subarray(0, len)).toString('utf8');
      this.capture = undefined;
      return i + 1;
    }
    if (this.capLen < CAPTURE_MAX) this.cap[this.capLen] = c;
    this.capLen++;
    return i + 1;
  }

  /** A byte outside strings; returns the feature it ends, when it is a feature's closing brace. */
  private byte(buf: Buffer, c: number, i: number): FeatureText | undefined {
    switch (c) {
      case QUOTE:
        this.openString();
        return undefined;
      case COLON:
        if (this.depth === 1) this.awaiting1 = true;
        else if (this.depth === 3) this.awaiting3 = true;
        return undefined;
      case LBRACE:
      case LBRACKET:
        this.open(c, i);
        return undefined;
      case RBRACE:
      case RBRACKET:
        return this.close(buf, c, i);
      default:
        this.value(c);
        return undefined;
    }
  }

  /** A string starts: read it when it is a key or `type` value at the depths followed. */
  private openString(): void {
    this.inString = true;
    if (this.depth === 1) {
      this.capture = this.awaiting1 ? (this.key1 === 'type' ? 'type1' : undefined) : 'key1';
      this.awaiting1 = false;
    } else if (this.depth === 3) {
      this.capture = this.awaiting3 ? (this.key3 === 'type' ? 'type3' : undefined) : 'key3';
      if (this.awaiting3 && this.key3 === 'geometry') this.geometry = null;
      else if (this.awaiting3 && this.key3 === 'properties') this.properties = null;
      this.awaiting3 = false;
    }
    this.capLen = 0;
  }

  /** An object or array opens: the features array, a feature, or a feature's member value. */
  private open(c: number, i: number): void {
    if (this.depth === 0 && c !== LBRACE)
      throw new GeoJsonStructureError('expected a GeoJSON object, found an array');
    if (this.depth === 1 && this.awaiting1) {
      this.awaiting1 = false;
      if (this.key1 === 'features') {
        if (c !== LBRACKET) throw new GeoJsonStructureError('"features" must be an array');
        this.inFeatures = true;
        this.sawFeatures = true;
      }
    } else if (this.inFeatures && this.depth === 2) {
      if (c !== LBRACE) throw new GeoJsonStructureError('each feature must be an object', this.index);
      this.startFeature(i);
    } else if (this.inFeatures && this.depth === 3 && this.awaiting3) {
      this.awaiting3 = false;
      // The position within the feature's bytes, which may have begun in an earlier buffer.
      this.valueStart = this.featureBytes + i - (this.featureStart === -1 ? 0 : this.featureStart);
      this.valueKey = this.key3;
    }
    this.depth++;
    // Only counted here: what is inside is skipped by brackets, never parsed, until the feature ends.
    if (this.depth > 3 + MAX_FEATURE_NESTING && this.inFeatures) this.tooDeep = true;
  }

  private startFeature(i: number): void {
    this.featureStart = i;
    this.tooDeep = false;
    this.key3 = '';
    this.awaiting3 = false;
    this.type3 = undefined;
    this.valueStart = -1;
    this.geometry = undefined;
    this.properties = undefined;
  }

  /** An object or array closes: a member's value ends where it lies, a feature ends, or the features do. */
  private close(buf: Buffer, c: number, i: number): FeatureText | undefined {
    this.depth--;
    if (this.depth < 0) throw new GeoJsonStructureError('unbalanced brackets');
    if (this.inFeatures && this.depth === 3 && this.valueStart !== -1) {
      const span: Span = [
        this.valueStart,
        this.featureBytes + i + 1 - (this.featureStart === -1 ? 0 : this.featureStart),
      ];
      if (this.valueKey === 'geometry') this.geometry = span;
      else if (this.valueKey === 'properties') this.properties = span;
      this.valueStart = -1;
    } else if (this.inFeatures && this.depth === 2 && c === RBRACE) return this.endFeature(buf, i);
    else if (this.inFeatures && this.depth === 1) this.inFeatures = false;
    return undefined;
  }

  private endFeature(buf: Buffer, i: number): FeatureText {
    const part = buf.subarray(this.featureStart === -1 ? 0 : this.featureStart, i + 1);
    const text = this.featureParts.length > 0 ? Buffer.concat([...this.featureParts, part]) : part;
    this.featureParts = [];
    this.featureBytes = 0;
    this.featureStart = -1;
    this.index++;
    const problem = this.tooDeep ? TOO_DEEP : undefined;
    return { text, type: this.type3, geometry: this.geometry, properties: this.properties, problem };
  }

  /** Any other value start (a number, true, false, null) takes the place of a pending value. */
  private value(c: number): void {
    if (c <= 0x20 || c === COMMA) return;
    if (this.depth === 1) this.awaiting1 = false;
    else if (this.depth === 3 && this.awaiting3) {
      if (this.key3 === 'geometry') this.geometry = null;
      else if (this.key3 === 'properties') this.properties = null;
      this.awaiting3 = false;
    } else if (this.inFeatures && this.depth === 2)
      throw new GeoJsonStructureError('each feature must be an object', this.index);
  }

  /** A feature still open when the buffer ends: its bytes so far are kept, up to the bound. */
  private keepPartial(buf: Buffer): void {
    if (!this.inFeatures || this.depth < 3) return;
    const part = buf.subarray(this.featureStart === -1 ? 0 : this.featureStart);
    this.featureParts.push(part);
    this.featureBytes += part.length;
    this.featureStart = -1;
    if (this.featureBytes > this.maxFeatureBytes)
      throw new GeoJsonStructureError(`feature is longer than ${this.maxFeatureBytes} bytes`, this.index);
  }

  /** At the end of the file: the document must be complete, and a FeatureCollection. */
  finish(): void {
    if (this.depth !== 0 || this.inString)
      throw new GeoJsonStructureError('the file ends before the GeoJSON is complete', this.index);
    if (this.type1 !== undefined && this.type1 !== 'FeatureCollection')
      throw new GeoJsonStructureError(`expected a FeatureCollection, found "type": "${this.type1}"`);
    if (!this.sawFeatures)
      throw new GeoJsonStructureError('no "features" array: expected a FeatureCollection');
  }
}

/**
 * Cuts a GeoJSON FeatureCollection into the bytes of each feature, without parsing the whole document. It
 * tracks only strings, nesting depth and the keys at two levels: the collection's (to find `features` and
 * check `type`) and each feature's (to find where its `geometry` and `properties` lie, so the caller can
 * parse each on its own). Memory holds one feature and one read buffer at a time.
 */
export async function* featureTexts(
  source: AsyncIterable<Buffer>,
  maxFeatureBytes = 256 << 20,
): AsyncGenerator<FeatureText> {
  const scan = new FeatureScan(maxFeatureBytes);
  for await (const buf of source) yield* scan.scan(buf);
  scan.finish();
}

/** The length of the run of backslashes that ends just before `at`, not looking before `from`. */
function backslashesBefore(buf: Buffer, at: number, from: number): number {
  let k = at - 1;
  while (k >= from && buf[k] === BACKSLASH) k--;
  return at - 1 - k;
}
