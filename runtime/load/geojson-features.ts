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
 * Cuts a GeoJSON FeatureCollection into the bytes of each feature, without parsing the whole document. It
 * tracks only strings, nesting depth and the keys at two levels: the collection's (to find `features` and
 * check `type`) and each feature's (to find where its `geometry` and `properties` lie, so the caller can
 * parse each on its own). Memory holds one feature and one read buffer at a time.
 */
export async function* featureTexts(
  source: AsyncIterable<Buffer>,
  maxFeatureBytes = 256 << 20,
): AsyncGenerator<FeatureText> {
  // Depths: 1 is the collection object, 2 the features array, 3 a feature object, 4+ inside its members.
  let depth = 0;
  let inString = false;
  let escaped = false;
  let capture: Capture | undefined;
  const cap = new Uint8Array(CAPTURE_MAX);
  let capLen = 0;
  let key1 = '';
  let awaiting1 = false;
  let inFeatures = false;
  let sawFeatures = false;
  let type1: string | undefined;

  let key3 = '';
  let awaiting3 = false;
  let type3: string | undefined;
  let valueStart = -1;
  let valueKey = '';
  let geometry: Span | undefined;
  let properties: Span | undefined;

  let featureParts: Buffer[] = [];
  let featureBytes = 0;
  let featureStart = -1;
  let index = 0;
  let tooDeep = false;

  for await (const buf of source) {
    // No closures over the scan's state here: captured variables live in a context object, and reading
    // them in this loop costs three times as much as reading locals.
    const n = buf.length;
    let i = 0;
    while (i < n) {
      if (depth >= 4 && !inString) {
        // Inside a feature's member only brackets and strings matter: skip numbers, commas and spaces.
        while (i < n && STRUCTURAL[buf[i]!] === 0) i++;
        if (i === n) break;
      }
      const c = buf[i]!;
      if (inString) {
        if (capture === undefined) {
          // A string we need not read: jump from quote to quote, skipping escaped ones.
          if (escaped) {
            escaped = false;
            i++;
            continue;
          }
          let q = buf.indexOf(QUOTE, i);
          while (q !== -1 && backslashesBefore(buf, q, i) % 2 === 1) q = buf.indexOf(QUOTE, q + 1);
          if (q === -1) {
            escaped = backslashesBefore(buf, n, i) % 2 === 1;
            i = n;
            break;
          }
          inString = false;
          i = q + 1;
          continue;
        }
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) {
          inString = false;
          const len = Math.min(capLen, CAPTURE_MAX);
          if (capture === 'key1') key1 = keyOf(cap, len);
          else if (capture === 'key3') key3 = keyOf(cap, len);
          else if (capture === 'type3')
            type3 = is(cap, len, WORDS.Feature)
              ? 'Feature'
              : Buffer.from(cap.subarray(0, len)).toString('utf8');
          else type1 = Buffer.from(cap.subarray(0, len)).toString('utf8');
          capture = undefined;
          i++;
          continue;
        }
        if (capLen < CAPTURE_MAX) cap[capLen] = c;
        capLen++;
        i++;
        continue;
      }
      switch (c) {
        case QUOTE:
          inString = true;
          if (depth === 1) {
            capture = awaiting1 ? (key1 === 'type' ? 'type1' : undefined) : 'key1';
            awaiting1 = false;
          } else if (depth === 3) {
            capture = awaiting3 ? (key3 === 'type' ? 'type3' : undefined) : 'key3';
            if (awaiting3 && key3 === 'geometry') geometry = null;
            else if (awaiting3 && key3 === 'properties') properties = null;
            awaiting3 = false;
          }
          capLen = 0;
          break;
        case COLON:
          if (depth === 1) awaiting1 = true;
          else if (depth === 3) awaiting3 = true;
          break;
        case LBRACE:
        case LBRACKET:
          if (depth === 0 && c !== LBRACE)
            throw new GeoJsonStructureError('expected a GeoJSON object, found an array');
          if (depth === 1 && awaiting1) {
            awaiting1 = false;
            if (key1 === 'features') {
              if (c !== LBRACKET) throw new GeoJsonStructureError('"features" must be an array');
              inFeatures = true;
              sawFeatures = true;
            }
          } else if (inFeatures && depth === 2) {
            if (c !== LBRACE) throw new GeoJsonStructureError('each feature must be an object', index);
            featureStart = i;
            tooDeep = false;
            key3 = '';
            awaiting3 = false;
            type3 = undefined;
            valueStart = -1;
            geometry = undefined;
            properties = undefined;
          } else if (inFeatures && depth === 3 && awaiting3) {
            awaiting3 = false;
            // The position within the feature's bytes, which may have begun in an earlier buffer.
            valueStart = featureBytes + i - (featureStart === -1 ? 0 : featureStart);
            valueKey = key3;
          }
          depth++;
          // Only counted here: what is inside is skipped by brackets, never parsed, until the feature ends.
          if (depth > 3 + MAX_FEATURE_NESTING && inFeatures) tooDeep = true;
          break;
        case RBRACE:
        case RBRACKET:
          depth--;
          if (depth < 0) throw new GeoJsonStructureError('unbalanced brackets');
          if (inFeatures && depth === 3 && valueStart !== -1) {
            const span: Span = [valueStart, featureBytes + i + 1 - (featureStart === -1 ? 0 : featureStart)];
            if (valueKey === 'geometry') geometry = span;
            else if (valueKey === 'properties') properties = span;
            valueStart = -1;
          } else if (inFeatures && depth === 2 && c === RBRACE) {
            const part = buf.subarray(featureStart === -1 ? 0 : featureStart, i + 1);
            const text = featureParts.length > 0 ? Buffer.concat([...featureParts, part]) : part;
            featureParts = [];
            featureBytes = 0;
            featureStart = -1;
            index++;
            yield { text, type: type3, geometry, properties, problem: tooDeep ? TOO_DEEP : undefined };
          } else if (inFeatures && depth === 1) {
            inFeatures = false;
          }
          break;
        default:
          // Any other value start (a number, true, false, null) takes the place of a pending value.
          if (c > 0x20 && c !== COMMA) {
            if (depth === 1) awaiting1 = false;
            else if (depth === 3 && awaiting3) {
              if (key3 === 'geometry') geometry = null;
              else if (key3 === 'properties') properties = null;
              awaiting3 = false;
            } else if (inFeatures && depth === 2)
              throw new GeoJsonStructureError('each feature must be an object', index);
          }
      }
      i++;
    }
    if (inFeatures && depth >= 3) {
      const part = buf.subarray(featureStart === -1 ? 0 : featureStart);
      featureParts.push(part);
      featureBytes += part.length;
      featureStart = -1;
      if (featureBytes > maxFeatureBytes)
        throw new GeoJsonStructureError(`feature is longer than ${maxFeatureBytes} bytes`, index);
    }
  }
  if (depth !== 0 || inString)
    throw new GeoJsonStructureError('the file ends before the GeoJSON is complete', index);
  if (type1 !== undefined && type1 !== 'FeatureCollection')
    throw new GeoJsonStructureError(`expected a FeatureCollection, found "type": "${type1}"`);
  if (!sawFeatures) throw new GeoJsonStructureError('no "features" array: expected a FeatureCollection');
}

/** The length of the run of backslashes that ends just before `at`, not looking before `from`. */
function backslashesBefore(buf: Buffer, at: number, from: number): number {
  let k = at - 1;
  while (k >= from && buf[k] === BACKSLASH) k--;
  return at - 1 - k;
}
