import type { Context } from 'hono';
import type { Catalog } from '../catalog-files/loader.ts';
import { flatgeobufOutputs, type Manifest, type PublishedFile } from '../publish/manifest.ts';
import type { PublishedReader } from '../publish/reader.ts';
import type { AppDeps, AppEnv, Principal } from './context.ts';
import { forbidden, notFound } from './problem.ts';
import type { SignedDownload } from './urls.ts';

/**
 * The one path from a request to a published file, for the partner API (downloads, OGC collections) and
 * the console alike: may the caller read the product (asked before whether it exists, so a 404 never
 * confirms a hidden name), does it exist, which version's output, and a short-lived URL to it. OGC
 * collection ids, which name an output, are made and read here too.
 */

type Kind = 'datasets' | 'products';

export function forbiddenFor(verb: string, kind: Kind, name: string): never {
  throw forbidden(`your scopes do not allow you to ${verb} ${kind}/${name}`);
}

/** 403 unless the partner's scopes name it: checked before existence, so a 404 never confirms a hidden name. */
export function requireVisible(p: Principal, kind: Kind, name: string): void {
  if (!p.scopes.sees(kind, name)) forbiddenFor('see', kind, name);
}

/** 404 unless the catalog has the product. */
export function requireProduct(catalog: Catalog, name: string): void {
  if (!catalog.products.has(name)) throw notFound(`no product "${name}"`);
}

/** 403 unless the partner may read the product, then 404 unless it exists. */
export function requireReadable(p: Principal, catalog: Catalog, name: string): void {
  if (!p.scopes.allows('read', 'products', name)) forbiddenFor('read', 'products', name);
  requireProduct(catalog, name);
}

const formatOf = (o: PublishedFile) => o.format as string;

/** One output file of a published version, in one format; 404 naming what the version has instead. */
export async function publishedOutput(
  published: PublishedReader,
  product: string,
  version: string,
  output: string,
  format: string,
): Promise<PublishedFile> {
  const manifest = await published.manifest(product, version);
  const file = manifest.outputs.find((o) => o.name === output && formatOf(o) === format);
  if (!file)
    throw notFound(
      `version ${manifest.version} of "${product}" has no output "${output}" as ${format} (it has: ${manifest.outputs.map((o) => `${o.name} ${o.format}`).join(', ')})`,
    );
  return file;
}

/** A short-lived URL to a published file, made for this client's door. */
export function signedDownload(c: Context<AppEnv>, deps: AppDeps, key: string): Promise<SignedDownload> {
  return deps.urls.download(key, { door: c.get('door'), signingKey: c.get('signingKey') });
}

/** `<product>.<output>` follows the latest version; `<product>.<output>.<version>` is pinned to one. */
export function collectionId(product: string, output: string, version?: string): string {
  return version ? `${product}.${output}.${version}` : `${product}.${output}`;
}

export interface CollectionRef {
  readonly product: string;
  readonly output: string;
  readonly version?: string;
}

export function parseCollectionId(id: string): CollectionRef {
  const m = /^([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)(?:\.([A-Za-z0-9][A-Za-z0-9_-]*))?$/.exec(id);
  if (!m)
    throw notFound(`no collection "${id}": ids are <product>.<output>, or <product>.<output>.<version>`);
  return { product: m[1]!, output: m[2]!, version: m[3] };
}

/**
 * The manifest and FlatGeobuf output a collection id names, once the partner may read its product;
 * `version` (a cursor's) wins over the id's own, and no version at all follows `latest`.
 */
export async function resolveCollection(
  p: Principal,
  catalog: Catalog,
  published: PublishedReader,
  id: string,
  version?: string,
): Promise<{ ref: CollectionRef; manifest: Manifest; output: PublishedFile }> {
  const ref = parseCollectionId(id);
  requireReadable(p, catalog, ref.product);
  const manifest = await published.manifest(ref.product, version ?? ref.version ?? 'latest');
  const output = flatgeobufOutputs(manifest).find((o) => o.name === ref.output);
  if (!output)
    throw notFound(`no collection "${id}": version ${manifest.version} has no FlatGeobuf of "${ref.output}"`);
  return { ref, manifest, output };
}
