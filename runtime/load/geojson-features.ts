const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COLON = 0x3a;

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

/**
 * Cuts a GeoJSON FeatureCollection into the bytes of each feature, without parsing the whole document:
 * it tracks only strings, nesting depth and the top-level keys. Each feature is then parsed on its own
 * with JSON.parse, which is many times faster than assembling values from a token stream, and memory holds
 * one feature (plus one read buffer) at a time.
 */
export async function* featureTexts(
  source: AsyncIterable<Buffer>,
  maxFeatureBytes = 256 << 20,
): AsyncGenerator<Buffer> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  /** Bytes of the current top-level key, while it is being read. */
  let key: number[] | undefined;
  let lastKey = '';
  let awaitingValue = false;
  /** Depth of the `features` array's elements (2), once inside it. */
  let inFeatures = false;
  let sawFeatures = false;
  let type: string | undefined;
  let typeValue: number[] | undefined;
  let featureParts: Buffer[] = [];
  let featureBytes = 0;
  let featureStart = -1;
  let index = 0;

  for await (const buf of source) {
    const n = buf.length;
    let i = 0;
    while (i < n) {
      if (depth >= 3 && !inString) {
        // Inside a feature only brackets and strings matter: skip numbers, commas and spaces in a tight loop.
        while (i < n && STRUCTURAL[buf[i]!] === 0) i++;
        if (i === n) break;
      }
      const c = buf[i]!;
      if (inString) {
        if (key === undefined && typeValue === undefined) {
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
          if (key !== undefined) {
            lastKey = Buffer.from(key).toString('utf8');
            key = undefined;
          } else if (typeValue !== undefined) {
            type = Buffer.from(typeValue).toString('utf8');
            typeValue = undefined;
          }
          i++;
          continue;
        }
        (key ?? typeValue)?.push(c);
        i++;
        continue;
      }
      switch (c) {
        case QUOTE:
          inString = true;
          if (depth === 1 && !awaitingValue) key = [];
          else if (depth === 1 && awaitingValue && lastKey === 'type') typeValue = [];
          if (depth === 1 && awaitingValue) awaitingValue = false;
          break;
        case COLON:
          if (depth === 1) awaitingValue = true;
          break;
        case LBRACE:
        case LBRACKET:
          if (depth === 1 && awaitingValue) {
            awaitingValue = false;
            if (lastKey === 'features') {
              if (c !== LBRACKET) throw new GeoJsonStructureError('"features" must be an array');
              inFeatures = true;
              sawFeatures = true;
            }
          }
          if (depth === 0 && c !== LBRACE)
            throw new GeoJsonStructureError('expected a GeoJSON object, found an array');
          if (inFeatures && depth === 2) {
            if (c !== LBRACE) throw new GeoJsonStructureError('each feature must be an object', index);
            featureStart = i;
          }
          depth++;
          break;
        case RBRACE:
        case RBRACKET:
          depth--;
          if (inFeatures && depth === 2 && c === RBRACE) {
            const part = buf.subarray(featureStart === -1 ? 0 : featureStart, i + 1);
            const text = featureParts.length > 0 ? Buffer.concat([...featureParts, part]) : part;
            featureParts = [];
            featureBytes = 0;
            featureStart = -1;
            index++;
            yield text;
          } else if (inFeatures && depth === 1) {
            inFeatures = false;
          }
          if (depth < 0) throw new GeoJsonStructureError('unbalanced brackets');
          break;
        default:
          // Any other value start at depth 1 (number, true, null) consumes the pending value.
          if (depth === 1 && awaitingValue && c > 0x20 && c !== 0x2c) awaitingValue = false;
          if (inFeatures && depth === 2 && c > 0x20 && c !== 0x2c)
            throw new GeoJsonStructureError('each feature must be an object', index);
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
  if (type !== undefined && type !== 'FeatureCollection')
    throw new GeoJsonStructureError(`expected a FeatureCollection, found "type": "${type}"`);
  if (!sawFeatures) throw new GeoJsonStructureError('no "features" array: expected a FeatureCollection');
}

/** The length of the run of backslashes that ends just before `at`, not looking before `from`. */
function backslashesBefore(buf: Buffer, at: number, from: number): number {
  let k = at - 1;
  while (k >= from && buf[k] === BACKSLASH) k--;
  return at - 1 - k;
}
