import type { Dataset } from '../catalog/schema.ts';

/**
 * Whether a dataset takes files a partner sends (under `partners/<partner>/<dataset>/` in ingress): one fed
 * by uploads, from any partner whose scopes allow it (the API checks those before it signs the upload URL);
 * one fed by a named partner, from that partner only.
 */
export function takesUploadsFrom(dataset: Dataset, partner: string): boolean {
  const source = dataset.source;
  return source.kind === 'upload' || (source.kind === 'partner' && source.partner === partner);
}

/** Content types an upload may declare, by the dataset's format; the first is assumed when none is given. */
export const UPLOAD_CONTENT_TYPES: Readonly<Record<Dataset['format'], readonly string[]>> = {
  csv: ['text/csv', 'application/csv', 'text/plain'],
  geojson: ['application/geo+json', 'application/json'],
  shapefile: ['application/zip', 'application/x-zip-compressed', 'application/octet-stream'],
  gpkg: ['application/geopackage+sqlite3', 'application/x-sqlite3', 'application/octet-stream'],
  flatgeobuf: ['application/flatgeobuf', 'application/octet-stream'],
  kml: ['application/vnd.google-earth.kml+xml', 'application/xml', 'text/xml'],
  geojsonseq: ['application/geo+json-seq', 'application/json-seq', 'text/plain'],
};
