// The QA report's map, run in the browser: Leaflet with its canvas renderer (no WebGL needed, so the page
// draws on any machine, GPU or not), the version's own features from the page, and country outlines from
// the page as the only background. Nothing is fetched.
import type { Feature, FeatureCollection, Geometry, Position } from 'geojson';
import L from 'leaflet';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import { PALETTE } from '../palette.ts';

type Status = 0 | 1 | 2;
type Row = [status: Status, geometry: Geometry, values: unknown[]];
interface Layer {
  readonly columns: string[];
  readonly features: Row[];
}

const COLOR: Record<Status, string> = { 0: PALETTE.unchanged, 1: PALETTE.changed, 2: PALETTE.added };
const LABEL: Record<Status, string> = { 0: 'unchanged', 1: 'changed', 2: 'added' };

function json<T>(id: string): T {
  const el = document.getElementById(id);
  if (!el?.textContent) throw new Error(`the page has no data block #${id}`);
  return JSON.parse(el.textContent) as T;
}

function pathStyle(status: Status): L.PathOptions {
  const color = COLOR[status];
  return status === 0
    ? { color, weight: 0.6, opacity: 0.7, fillColor: color, fillOpacity: 0.22 }
    : { color, weight: 1.6, opacity: 1, fillColor: color, fillOpacity: 0.75 };
}

function pointStyle(status: Status): L.CircleMarkerOptions {
  return status === 0
    ? { radius: 3, stroke: false, fillColor: COLOR[0], fillOpacity: 0.8 }
    : { radius: 6, color: '#ffffff', weight: 1.5, fillColor: COLOR[status], fillOpacity: 1 };
}

/** A feature's values as a small table, built from text nodes: values are data, never markup. */
function popup(columns: readonly string[], values: readonly unknown[], status: Status): HTMLElement {
  const box = document.createElement('div');
  const head = document.createElement('p');
  head.className = 'qa-popup-status';
  head.textContent = LABEL[status];
  box.append(head);
  const table = document.createElement('table');
  columns.forEach((name, i) => {
    const tr = table.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = name;
    tr.append(th);
    tr.insertCell().textContent = values[i] === null || values[i] === undefined ? '' : String(values[i]);
  });
  box.append(table);
  return box;
}

function positions(g: Geometry, out: Position[]): void {
  switch (g.type) {
    case 'Point':
      out.push(g.coordinates);
      break;
    case 'MultiPoint':
    case 'LineString':
      out.push(...g.coordinates);
      break;
    case 'MultiLineString':
    case 'Polygon':
      for (const part of g.coordinates) out.push(...part);
      break;
    case 'MultiPolygon':
      for (const poly of g.coordinates) for (const ring of poly) out.push(...ring);
      break;
    case 'GeometryCollection':
      for (const child of g.geometries) positions(child, out);
      break;
  }
}

/**
 * Where the map opens: the middle 98% of the features' centres, so a few far-off ones (the Aleutians across
 * the antimeridian, a stray point at 0,0) do not shrink the rest to a dot. Zooming out shows them all.
 */
function viewBounds(rows: readonly Row[]): L.LatLngBounds | undefined {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const [, g] of rows) {
    const pts: Position[] = [];
    positions(g, pts);
    if (pts.length === 0) continue;
    let x1 = Infinity;
    let y1 = Infinity;
    let x2 = -Infinity;
    let y2 = -Infinity;
    for (const [x, y] of pts) {
      if (x! < x1) x1 = x!;
      if (x! > x2) x2 = x!;
      if (y! < y1) y1 = y!;
      if (y! > y2) y2 = y!;
    }
    xs.push((x1 + x2) / 2);
    ys.push((y1 + y2) / 2);
  }
  if (xs.length === 0) return undefined;
  xs.sort((a, b) => a - b);
  ys.sort((a, b) => a - b);
  const cut = xs.length >= 100 ? Math.floor(xs.length * 0.01) : 0;
  const last = xs.length - 1 - cut;
  return L.latLngBounds([ys[cut]!, xs[cut]!], [ys[last]!, xs[last]!]).pad(0.05);
}

function draw(el: HTMLElement, world: Topology): void {
  const layer = json<Layer>(el.dataset.layer ?? '');
  const renderer = L.canvas({ padding: 0.3 });
  const map = L.map(el, { renderer, preferCanvas: true, zoomSnap: 0.25, attributionControl: false });
  const land = feature(world, world.objects.countries as GeometryCollection) as FeatureCollection;
  L.geoJSON(land, {
    interactive: false,
    style: { color: PALETTE.border, weight: 0.7, fillColor: PALETTE.land, fillOpacity: 1 },
  }).addTo(map);
  // Unchanged first, so the changed and added ones are drawn on top of them.
  for (const status of [0, 1, 2] as const) {
    const features: Feature[] = layer.features
      .filter((f) => f[0] === status)
      .map(([, geometry, values]) => ({ type: 'Feature', geometry, properties: { values } }));
    if (features.length === 0) continue;
    const collection: FeatureCollection = { type: 'FeatureCollection', features };
    L.geoJSON(collection, {
      // Leaflet styles every layer of a GeoJSON layer, points too: each gets its own kind of style.
      style: (f) => (f?.geometry.type.endsWith('Point') ? pointStyle(status) : pathStyle(status)),
      pointToLayer: (_f, at) => L.circleMarker(at, pointStyle(status)),
      onEachFeature: (f, l) =>
        l.bindPopup(() => popup(layer.columns, (f.properties as { values: unknown[] }).values, status)),
    }).addTo(map);
  }
  const bounds = viewBounds(layer.features);
  if (bounds) map.fitBounds(bounds);
  else map.setView([20, 0], 1);
  // The canvas redraws on the next animation frames after the view is set: say so once it has.
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      el.dataset.ready = 'true';
    }),
  );
}

function start(): void {
  const maps = document.querySelectorAll<HTMLElement>('[data-qa-map]');
  if (maps.length === 0) return;
  const world = json<Topology>('qa-world');
  for (const el of maps) draw(el, world);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
