import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { findCycles } from '../catalog/graph.ts';
import {
  formatPath,
  type Position,
  parseYaml,
  positionOf,
  schemaIssues,
  type YamlSource,
} from '../catalog/issues.ts';
import { Dataset, isUpstreamInput, outputName, Product, type ProductEntry } from '../catalog/schema.ts';
import {
  CatalogError,
  type CatalogIssue,
  type CatalogSubject,
  NotFoundError,
  type StrataError,
} from '../errors.ts';
import { didYouMean } from '../util/suggest.ts';
import { type CrsReference, unknownCrs } from './crs.ts';

export { formatPath };

export interface Catalog {
  readonly dir: string;
  /** The datasets and products that can be used: those with no problem of their own or of what they read. */
  readonly datasets: ReadonlyMap<string, Dataset>;
  readonly products: ReadonlyMap<string, ProductEntry>;
  /**
   * Datasets and products left out of the maps above, with the problems that keep them out (for a product
   * whose own files are fine, those of the datasets it reads). Commands refuse these alone.
   */
  readonly unusable?: {
    readonly datasets: ReadonlyMap<string, readonly CatalogIssue[]>;
    readonly products: ReadonlyMap<string, readonly CatalogIssue[]>;
  };
  /** The sha256 of the catalog's pack (runtime/catalog-files/bundle.ts), when it was opened through one. */
  readonly sha256?: string;
}

async function readYaml(
  dir: string,
  path: string,
  subject: CatalogSubject,
  issues: CatalogIssue[],
): Promise<{ raw: unknown; source: YamlSource } | undefined> {
  const file = relative(dir, path);
  const { source, errors } = parseYaml(await readFile(path, 'utf8'));
  for (const e of errors)
    issues.push({ file, line: e.line, column: e.column, path: '', message: e.message, subject });
  return errors.length > 0 ? undefined : { raw: source.doc.toJS(), source };
}

/** The line and column of `path` in a catalog file, for problems found after loading (as by `validate`). */
export async function locateInFile(
  dir: string,
  file: string,
  path: readonly PropertyKey[],
): Promise<Position | undefined> {
  const { source, errors } = parseYaml(await readFile(join(dir, file), 'utf8'));
  return errors.length > 0 ? undefined : positionOf(source, path);
}

async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Tables and views that a step's SQL creates, as far as a plain reading can tell. */
export function tablesCreatedBy(sql: string): Set<string> {
  const out = new Set<string>();
  const re =
    /create\s+(?:or\s+replace\s+)?(?:(?:temp|temporary|unlogged)\s+)?(?:materialized\s+)?(?:table|view)\s+(?:if\s+not\s+exists\s+)?(?:"?[a-z_][a-z0-9_]*"?\.)?"?([a-z_][a-z0-9_]*)"?/gi;
  for (const m of sql.matchAll(re)) out.add(m[1]!.toLowerCase());
  return out;
}

/**
 * Reads `datasets/*.yaml` and `products/<name>/product.yaml` under `dir`, validates each and the references
 * between them, and returns every problem found rather than the first, each with its line and column. What
 * has no problem (of its own, or for a product, of a dataset it reads) is in the catalog for use.
 */
export async function loadCatalog(dir: string): Promise<{ catalog: Catalog; issues: CatalogIssue[] }> {
  const issues: CatalogIssue[] = [];
  const datasets = new Map<string, Dataset>();
  const products = new Map<string, ProductEntry>();
  const unusable = {
    datasets: new Map<string, CatalogIssue[]>(),
    products: new Map<string, CatalogIssue[]>(),
  };
  const catalog: Catalog = { dir, datasets, products, unusable };

  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch {
    issues.push({ file: dir, path: '', message: 'catalog directory not found' });
    return { catalog, issues };
  }

  for (const name of await listDir(join(dir, 'datasets'))) {
    if (!/\.ya?ml$/.test(name)) continue;
    const stem = basename(name).replace(/\.ya?ml$/, '');
    const subject: CatalogSubject = { kind: 'dataset', name: stem };
    const own = await datasetIssues(dir, join(dir, 'datasets', name), subject, datasets);
    issues.push(...own);
    if (own.length > 0) unusable.datasets.set(stem, own);
  }

  const knownDatasets = [...datasets.keys(), ...unusable.datasets.keys()];
  const loaded = new Map<string, LoadedProduct>();
  for (const name of await listDir(join(dir, 'products'))) {
    const productDir = join(dir, 'products', name);
    if (!(await stat(productDir)).isDirectory()) continue;
    const subject: CatalogSubject = { kind: 'product', name };
    loaded.set(name, await productIssues(dir, productDir, subject, knownDatasets));
  }
  for (const [name, issue] of graphIssues(loaded)) loaded.get(name)!.issues.push(issue);
  for (const [name, l] of loaded) {
    issues.push(...l.issues);
    if (l.issues.length > 0) unusable.products.set(name, l.issues);
  }
  // A product whose own files are fine waits for what it reads, directly or through others, to be mended.
  for (const name of loaded.keys()) {
    if (unusable.products.has(name)) continue;
    const blocked = blockedBy(loaded, unusable, name, new Set());
    if (blocked.length > 0) unusable.products.set(name, [...new Set(blocked)]);
    else products.set(name, loaded.get(name)!.entry!);
  }
  return { catalog, issues };
}

async function datasetIssues(
  dir: string,
  path: string,
  subject: CatalogSubject,
  datasets: Map<string, Dataset>,
): Promise<CatalogIssue[]> {
  const issues: CatalogIssue[] = [];
  const file = relative(dir, path);
  const read = await readYaml(dir, path, subject, issues);
  if (!read) return issues;
  const parsed = Dataset.safeParse(read.raw);
  if (!parsed.success) return schemaIssues(file, parsed.error, Dataset, read.raw, read.source, subject);
  if (parsed.data.name !== subject.name)
    return [
      {
        file,
        ...positionOf(read.source, ['name']),
        path: 'name',
        message: `must match the file name ("${subject.name}"), got "${parsed.data.name}"`,
        subject,
      },
    ];
  const g = parsed.data.geometry;
  const refs: CrsReference[] = [];
  if (g.kind !== 'none') {
    if (g.sourceSrid !== undefined) refs.push({ file, path: 'geometry.sourceSrid', code: g.sourceSrid });
    refs.push({ file, path: 'geometry.targetSrid', code: g.targetSrid });
  }
  const crs = await crsIssues(refs, read.source, subject);
  if (crs.length > 0) return crs;
  datasets.set(parsed.data.name, parsed.data);
  return [];
}

/** CRS codes PROJ does not know (asked of GDAL once a process per code; unchecked where GDAL is absent). */
async function crsIssues(
  refs: readonly CrsReference[],
  source: YamlSource,
  subject: CatalogSubject,
): Promise<CatalogIssue[]> {
  return (await unknownCrs(refs)).map((r) => {
    const at = r.path.split('.').flatMap((part) => {
      const m = /^(\w+)\[(\d+)\]$/.exec(part);
      return m ? [m[1]!, Number(m[2])] : [part];
    });
    return {
      file: r.file,
      ...positionOf(source, at),
      path: r.path,
      message: `EPSG:${r.code} is not a coordinate reference system PROJ knows`,
      subject,
    };
  });
}

/** A product read from its folder: its problems so far, and where in its file a path is. */
interface LoadedProduct {
  readonly issues: CatalogIssue[];
  readonly entry?: ProductEntry;
  readonly at?: (path: PropertyKey[], message: string) => CatalogIssue;
}

/** The problems of what a product reads, for a product whose own files are fine (none when nothing is wrong). */
function blockedBy(
  loaded: ReadonlyMap<string, LoadedProduct>,
  unusable: { datasets: ReadonlyMap<string, CatalogIssue[]>; products: ReadonlyMap<string, CatalogIssue[]> },
  name: string,
  seen: Set<string>,
): CatalogIssue[] {
  seen.add(name);
  const entry = loaded.get(name)?.entry;
  if (!entry) return [];
  return Object.values(entry.product.inputs).flatMap((i) => {
    if (!isUpstreamInput(i)) return unusable.datasets.get(i.dataset) ?? [];
    const own = unusable.products.get(i.product);
    if (own && loaded.get(i.product)?.issues.length) return own;
    return seen.has(i.product) ? [] : blockedBy(loaded, unusable, i.product, seen);
  });
}

/**
 * What only the whole graph shows: an input naming a product the catalog lacks, or an output that product
 * does not publish, and products that read each other round a loop (each in the loop is told, at its input).
 */
function graphIssues(loaded: ReadonlyMap<string, LoadedProduct>): [string, CatalogIssue][] {
  const out: [string, CatalogIssue][] = [];
  const known = [...loaded.keys()];
  for (const [name, l] of loaded) {
    if (!l.entry || !l.at) continue;
    for (const [alias, input] of Object.entries(l.entry.product.inputs)) {
      if (!isUpstreamInput(input)) continue;
      const upstream = loaded.get(input.product);
      if (!upstream)
        out.push([
          name,
          l.at(
            ['inputs', alias, 'product'],
            `unknown product "${input.product}"${didYouMean(input.product, known)}`,
          ),
        ]);
      else if (upstream.entry) {
        const outputs = upstream.entry.product.outputs.map(outputName);
        if (!outputs.includes(input.output))
          out.push([
            name,
            l.at(
              ['inputs', alias, 'output'],
              `product "${input.product}" has no output "${input.output}"${didYouMean(input.output, outputs) || `; its outputs: ${outputs.join(', ')}`}`,
            ),
          ]);
      }
    }
  }
  const entries = new Map([...loaded].flatMap(([n, l]) => (l.entry ? [[n, l.entry] as const] : [])));
  for (const cycle of findCycles(entries)) {
    const loop = cycle.join(' → ');
    for (const [i, name] of cycle.slice(1).entries()) {
      const l = loaded.get(name)!;
      const upstream = cycle[i]!;
      const alias = Object.entries(l.entry!.product.inputs).find(
        ([, input]) => isUpstreamInput(input) && input.product === upstream,
      )?.[0];
      out.push([name, l.at!(['inputs', alias ?? ''], `products read each other round a loop: ${loop}`)]);
    }
  }
  return out;
}

async function productIssues(
  dir: string,
  productDir: string,
  subject: CatalogSubject,
  knownDatasets: readonly string[],
): Promise<LoadedProduct> {
  const issues: CatalogIssue[] = [];
  const path = join(productDir, 'product.yaml');
  const file = relative(dir, path);
  const entries = await listDir(productDir);
  if (!entries.includes('product.yaml'))
    return { issues: [{ file, path: '', message: 'missing product.yaml', subject }] };
  const read = await readYaml(dir, path, subject, issues);
  if (!read) return { issues };
  const parsed = Product.safeParse(read.raw);
  if (!parsed.success)
    return { issues: schemaIssues(file, parsed.error, Product, read.raw, read.source, subject) };
  const product = parsed.data;
  const at = (path: PropertyKey[], message: string): CatalogIssue => ({
    file,
    ...positionOf(read.source, path),
    path: formatPath(path),
    message,
    subject,
  });
  const add = (path: PropertyKey[], message: string) => issues.push(at(path, message));

  if (product.name !== subject.name)
    add(['name'], `must match the folder name ("${subject.name}"), got "${product.name}"`);
  for (const [alias, input] of Object.entries(product.inputs)) {
    if (isUpstreamInput(input)) continue; // checked against the other products, once all are read
    if (!knownDatasets.includes(input.dataset))
      add(
        ['inputs', alias, 'dataset'],
        `unknown dataset "${input.dataset}"${didYouMean(input.dataset, knownDatasets)}`,
      );
  }
  const stepFiles = product.steps ?? entries.filter((e) => /^\d+_.*\.sql$/.test(e));
  if (stepFiles.length === 0) add(['steps'], 'no SQL steps: add NNN_name.sql files or list `steps`');
  stepFiles.forEach((f, i) => {
    if (!entries.includes(f))
      add(
        product.steps ? ['steps', i] : ['steps'],
        `SQL file "${f}" not found${didYouMean(
          f,
          entries.filter((e) => e.endsWith('.sql')),
        )}`,
      );
  });
  const steps: { file: string; sql: string }[] = [];
  for (const f of stepFiles.filter((f) => entries.includes(f)))
    steps.push({ file: f, sql: await readFile(join(productDir, f), 'utf8') });
  const created = new Set<string>(Object.keys(product.inputs));
  for (const s of steps) for (const t of tablesCreatedBy(s.sql)) created.add(t);
  product.outputs.forEach((o, i) => {
    if (!created.has(o.table))
      add(['outputs', i, 'table'], `no step creates table "${o.table}"${didYouMean(o.table, created)}`);
  });
  product.checks.forEach((c, i) => {
    if (!created.has(c.table))
      add(['checks', i, 'table'], `no step creates table "${c.table}"${didYouMean(c.table, created)}`);
  });
  issues.push(
    ...(await crsIssues(
      product.checks.flatMap((c, i) =>
        c.type === 'within_bbox' ? [{ file, path: `checks[${i}].srid`, code: c.srid }] : [],
      ),
      read.source,
      subject,
    )),
  );
  return { issues, entry: { product, dir: productDir, steps }, at };
}

/** Loads the catalog and throws a CatalogError listing every problem (deploys and tasks take no broken part). */
export async function loadCatalogOrThrow(dir: string): Promise<Catalog> {
  const { catalog, issues } = await loadCatalog(dir);
  if (issues.length > 0) throw new CatalogError(issues);
  return catalog;
}

/**
 * Loads what of the catalog can be used: a problem in one dataset or product leaves the rest usable, and
 * only a catalog that cannot be read at all throws. Returns the problems too, for a command to mention.
 */
export async function loadUsableCatalog(dir: string): Promise<{ catalog: Catalog; issues: CatalogIssue[] }> {
  const loaded = await loadCatalog(dir);
  const everything = loaded.issues.filter((i) => !i.subject);
  if (everything.length > 0) throw new CatalogError(everything);
  return loaded;
}

/**
 * Why a dataset or product cannot be used: its catalog problems (or those of a dataset it reads), or that
 * the catalog has no such thing, with the name most likely meant.
 */
export function unavailable(catalog: Catalog, kind: 'dataset' | 'product', name: string): StrataError {
  const problems = (kind === 'dataset' ? catalog.unusable?.datasets : catalog.unusable?.products)?.get(name);
  if (problems) {
    const others = [
      ...new Set(problems.filter((p) => p.subject?.name !== name).map((p) => `"${p.subject?.name}"`)),
    ];
    return new CatalogError(
      problems,
      others.length > 0
        ? `${kind} "${name}" reads dataset ${others.join(', ')}, which has problems in the catalog`
        : `${kind} "${name}" has problems in the catalog`,
    );
  }
  const usable = [...(kind === 'dataset' ? catalog.datasets.keys() : catalog.products.keys())];
  const broken = (kind === 'dataset' ? catalog.unusable?.datasets : catalog.unusable?.products)?.keys() ?? [];
  const hint = didYouMean(name, [...usable, ...broken]);
  return new NotFoundError(
    `${kind} "${name}" is not in the catalog (${catalog.dir})${hint || `; known: ${usable.join(', ') || 'none'}`}`,
  );
}

/** The catalog problems that keep a dataset or product out of use, as one message; undefined when it has none. */
export function problemsOf(catalog: Catalog, kind: 'dataset' | 'product', name: string): string | undefined {
  const unusable = kind === 'dataset' ? catalog.unusable?.datasets : catalog.unusable?.products;
  return unusable?.has(name) ? unavailable(catalog, kind, name).message : undefined;
}
