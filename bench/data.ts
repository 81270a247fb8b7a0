import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

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

async function write(path: string, rows: Iterable<string> | AsyncIterable<string>): Promise<void> {
  const out = createWriteStream(path);
  let buf = '';
  for await (const row of rows) {
    buf += row;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

/** Where generated features fall: Great Britain, in WGS84 degrees or British National Grid metres. */
export interface Area {
  readonly seed: number;
  readonly x: readonly [number, number];
  readonly y: readonly [number, number];
  /** Column names of the coordinates in a CSV. */
  readonly names: readonly [string, string];
  /** Decimals of a point's coordinates and of a polygon's. */
  readonly decimals: readonly [number, number];
  /** A polygon's radius, from and span. */
  readonly radius: readonly [number, number];
  /** Names with commas and quotes now and then (CSV only). */
  readonly quoted: boolean;
}

export const GB_WGS84: Area = {
  seed: 42,
  x: [-6, 7.8],
  y: [50, 8.6],
  names: ['lon', 'lat'],
  decimals: [6, 7],
  radius: [0.001, 0.01],
  quoted: true,
};
export const GB_BNG: Area = {
  seed: 11,
  x: [100_000, 550_000],
  y: [10_000, 940_000],
  names: ['x', 'y'],
  decimals: [2, 2],
  radius: [5, 250],
  quoted: false,
};

/** id,name,category,value and two coordinates: points over Great Britain. */
export async function writePointsCsv(path: string, rows: number, area: Area = GB_WGS84): Promise<void> {
  const r = prng(area.seed);
  function* lines() {
    yield `id,name,category,value,${area.names.join(',')}\n`;
    for (let i = 1; i <= rows; i++) {
      const w = `${WORDS[Math.floor(r() * WORDS.length)]} ${WORDS[Math.floor(r() * WORDS.length)]}`;
      const name = area.quoted && i % 97 === 0 ? `"${w}, ""${i}"""` : w;
      const x = (area.x[0] + r() * area.x[1]).toFixed(area.decimals[0]);
      const y = (area.y[0] + r() * area.y[1]).toFixed(area.decimals[0]);
      yield `${i},${name},${CATEGORIES[i % CATEGORIES.length]},${(r() * 1000).toFixed(2)},${x},${y}\n`;
    }
  }
  await write(path, lines());
}

/** A FeatureCollection of small convex polygons (6 to 12 vertices) with three properties. */
export async function writePolygonsGeoJson(
  path: string,
  count: number,
  area: Area = GB_WGS84,
): Promise<void> {
  // The polygons' own sequence, as before areas were parameters: the WGS84 file stays byte for byte the same.
  const r = prng(area === GB_WGS84 ? 7 : area.seed + 2);
  const d = area.decimals[1];
  function* parts() {
    yield '{"type":"FeatureCollection","features":[\n';
    for (let i = 1; i <= count; i++) {
      const cx = area.x[0] + r() * area.x[1];
      const cy = area.y[0] + r() * area.y[1];
      const n = 6 + Math.floor(r() * 7);
      const radius = area.radius[0] + r() * area.radius[1];
      const ring: [number, number][] = [];
      for (let k = 0; k < n; k++) {
        const a = (2 * Math.PI * k) / n;
        ring.push([
          Number((cx + radius * Math.cos(a)).toFixed(d)),
          Number((cy + radius * Math.sin(a)).toFixed(d)),
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

/**
 * The next version of a points CSV, as a source would send it: every 1,000th row's value changed, every
 * 5,000th row gone, and one new row per 2,000 at the end. Returns what changed, to check the QA report by.
 */
export async function writeChangedPointsCsv(
  from: string,
  to: string,
): Promise<{ changed: number; removed: number; added: number }> {
  const counts = { changed: 0, removed: 0, added: 0 };
  let last = 0;
  async function* lines() {
    let n = 0;
    for await (const line of createInterface({ input: createReadStream(from), crlfDelay: Infinity })) {
      if (n++ === 0) {
        yield `${line}\n`;
        continue;
      }
      const id = Number(line.slice(0, line.indexOf(',')));
      last = Math.max(last, id);
      if (id % 5000 === 0) {
        counts.removed++;
        continue;
      }
      if (id % 1000 === 0) {
        // The value is the third field from the end (a name may hold commas): ...,value,lon,lat
        const f = line.split(',');
        f[f.length - 3] = (Number(f[f.length - 3]) + 1).toFixed(2);
        counts.changed++;
        yield `${f.join(',')}\n`;
        continue;
      }
      yield `${line}\n`;
    }
    const extra = Math.floor(last / 2000);
    for (let i = 1; i <= extra; i++) {
      counts.added++;
      yield `${last + i},new ${i},station,1.00,${(-6 + (i % 78) * 0.1).toFixed(6)},${(50 + (i % 86) * 0.1).toFixed(6)}\n`;
    }
  }
  await write(to, lines());
  return counts;
}
