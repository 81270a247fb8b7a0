import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

/** mulberry32: a small seeded generator, so every run writes the same bytes. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'north',
  'south',
  'mill',
  'bridge',
  'green',
  'church',
  'market',
  'hill',
  'park',
  'lane',
  'Café',
  'Straße',
];
const CATEGORIES = ['school', 'clinic', 'library', 'depot', 'station'];

async function write(path: string, rows: Iterable<string>): Promise<void> {
  const out = createWriteStream(path);
  let buf = '';
  for (const row of rows) {
    buf += row;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

/** id,name,category,value,lon,lat: points over Great Britain, names with commas and quotes now and then. */
export async function writePointsCsv(path: string, rows: number): Promise<void> {
  const r = prng(42);
  function* lines() {
    yield 'id,name,category,value,lon,lat\n';
    for (let i = 1; i <= rows; i++) {
      const w = `${WORDS[Math.floor(r() * WORDS.length)]} ${WORDS[Math.floor(r() * WORDS.length)]}`;
      const name = i % 97 === 0 ? `"${w}, ""${i}"""` : w;
      const lon = (-6 + r() * 7.8).toFixed(6);
      const lat = (50 + r() * 8.6).toFixed(6);
      yield `${i},${name},${CATEGORIES[i % CATEGORIES.length]},${(r() * 1000).toFixed(2)},${lon},${lat}\n`;
    }
  }
  await write(path, lines());
}

/** A FeatureCollection of small convex polygons (6 to 12 vertices) with three properties. */
export async function writePolygonsGeoJson(path: string, count: number): Promise<void> {
  const r = prng(7);
  function* parts() {
    yield '{"type":"FeatureCollection","features":[\n';
    for (let i = 1; i <= count; i++) {
      const cx = -6 + r() * 7.8;
      const cy = 50 + r() * 8.6;
      const n = 6 + Math.floor(r() * 7);
      const radius = 0.001 + r() * 0.01;
      const ring: [number, number][] = [];
      for (let k = 0; k < n; k++) {
        const a = (2 * Math.PI * k) / n;
        ring.push([
          Number((cx + radius * Math.cos(a)).toFixed(7)),
          Number((cy + radius * Math.sin(a)).toFixed(7)),
        ]);
      }
      ring.push(ring[0]!);
      const feature = {
        type: 'Feature',
        properties: { id: i, name: `${WORDS[i % WORDS.length]} ${i}`, value: Math.round(r() * 1e6) / 100 },
        geometry: { type: 'Polygon', coordinates: [ring] },
      };
      yield `${i > 1 ? ',\n' : ''}${JSON.stringify(feature)}`;
    }
    yield '\n]}\n';
  }
  await write(path, parts());
}

/** Points over Great Britain in British National Grid metres (EPSG:27700): id,name,category,value,x,y. */
export async function writePointsBngCsv(path: string, rows: number): Promise<void> {
  const r = prng(11);
  function* lines() {
    yield 'id,name,category,value,x,y\n';
    for (let i = 1; i <= rows; i++) {
      const name = `${WORDS[Math.floor(r() * WORDS.length)]} ${WORDS[Math.floor(r() * WORDS.length)]}`;
      const x = (100_000 + r() * 550_000).toFixed(2);
      const y = (10_000 + r() * 940_000).toFixed(2);
      yield `${i},${name},${CATEGORIES[i % CATEGORIES.length]},${(r() * 1000).toFixed(2)},${x},${y}\n`;
    }
  }
  await write(path, lines());
}

/** Small convex polygons (6 to 12 vertices, 10 to 500 m across) in British National Grid metres, as GeoJSON. */
export async function writePolygonsBngGeoJson(path: string, count: number): Promise<void> {
  const r = prng(13);
  function* parts() {
    yield '{"type":"FeatureCollection","features":[\n';
    for (let i = 1; i <= count; i++) {
      const cx = 100_000 + r() * 550_000;
      const cy = 10_000 + r() * 940_000;
      const n = 6 + Math.floor(r() * 7);
      const radius = 5 + r() * 250;
      const ring: [number, number][] = [];
      for (let k = 0; k < n; k++) {
        const a = (2 * Math.PI * k) / n;
        ring.push([
          Number((cx + radius * Math.cos(a)).toFixed(2)),
          Number((cy + radius * Math.sin(a)).toFixed(2)),
        ]);
      }
      ring.push(ring[0]!);
      const feature = {
        type: 'Feature',
        properties: { id: i, name: `${WORDS[i % WORDS.length]} ${i}`, value: Math.round(r() * 1e6) / 100 },
        geometry: { type: 'Polygon', coordinates: [ring] },
      };
      yield `${i > 1 ? ',\n' : ''}${JSON.stringify(feature)}`;
    }
    yield '\n]}\n';
  }
  await write(path, parts());
}
