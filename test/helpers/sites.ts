/** A small dataset of points for QA tests: sites with a name and a number of visits, as CSV with lon/lat. */
export const SITES_DATASET = {
  format: 'csv',
  columns: [
    { name: 'id', type: 'integer', required: true },
    { name: 'name', type: 'text' },
    { name: 'visits', type: 'integer' },
    { name: 'lon', type: 'double' },
    { name: 'lat', type: 'double' },
  ],
  geometry: { kind: 'lonlat', lon: 'lon', lat: 'lat' },
} as const;

export interface Site {
  id: number;
  name: string | null;
  visits: number;
  lon: number;
  lat: number;
}

/** Sixty sites on a grid of ten by six over Britain, 0.6° apart, with 10 to 69 visits. */
export const siteGrid = (): Site[] =>
  Array.from({ length: 60 }, (_, i) => ({
    id: i + 1,
    name: `site ${i + 1}`,
    visits: 10 + i,
    lon: -4 + (i % 10) * 0.6,
    lat: 50.5 + Math.floor(i / 10) * 0.6,
  }));

/** Sites as the CSV a user would drop in; a null name as an empty field. */
export const sitesCsv = (rows: readonly Site[]): string =>
  `id,name,visits,lon,lat\n${rows.map((r) => `${r.id},${r.name === null ? '' : `"${r.name.replace(/"/g, '""')}"`},${r.visits},${r.lon},${r.lat}`).join('\n')}\n`;
