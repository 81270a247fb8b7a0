import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { CatalogError, type CatalogIssue } from '../errors.ts';
import { type CrsReference, unknownCrs } from './crs.ts';
import { Dataset, Product, type ProductEntry } from './schema.ts';

export interface Catalog {
  readonly dir: string;
  readonly datasets: ReadonlyMap<string, Dataset>;
  readonly products: ReadonlyMap<string, ProductEntry>;
  /** The sha256 of the catalog's pack (runtime/catalog/bundle.ts), when it was opened through one. */
  readonly sha256?: string;
}

/** `columns[2].type` from zod's `['columns', 2, 'type']`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

function zodIssues(file: string, error: z.ZodError): CatalogIssue[] {
  return error.issues.map((i) => ({ file, path: formatPath(i.path), message: i.message }));
}

async function readYaml(dir: string, path: string, issues: CatalogIssue[]): Promise<unknown> {
  const file = relative(dir, path);
  const text = await readFile(path, 'utf8');
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const line = e.linePos?.[0]?.line;
      issues.push({ file, path: line ? `line ${line}` : '', message: e.message.split('\n')[0] ?? e.message });
    }
    return undefined;
  }
  return doc.toJS();
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
 * between them, and returns every problem found rather than the first.
 */
export async function loadCatalog(dir: string): Promise<{ catalog: Catalog; issues: CatalogIssue[] }> {
  const issues: CatalogIssue[] = [];
  /** CRS codes the catalog names, checked against PROJ together at the end. */
  const crsRefs: CrsReference[] = [];
  const datasets = new Map<string, Dataset>();
  const products = new Map<string, ProductEntry>();

  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch {
    issues.push({ file: dir, path: '', message: 'catalog directory not found' });
    return { catalog: { dir, datasets, products }, issues };
  }

  for (const name of await listDir(join(dir, 'datasets'))) {
    if (!/\.ya?ml$/.test(name)) continue;
    const path = join(dir, 'datasets', name);
    const file = relative(dir, path);
    const raw = await readYaml(dir, path, issues);
    if (raw === undefined) continue;
    const parsed = Dataset.safeParse(raw);
    if (!parsed.success) {
      issues.push(...zodIssues(file, parsed.error));
      continue;
    }
    const stem = basename(name).replace(/\.ya?ml$/, '');
    if (parsed.data.name !== stem) {
      issues.push({
        file,
        path: 'name',
        message: `must match the file name ("${stem}"), got "${parsed.data.name}"`,
      });
      continue;
    }
    datasets.set(parsed.data.name, parsed.data);
    const g = parsed.data.geometry;
    if (g.kind !== 'none') {
      if (g.sourceSrid !== undefined) crsRefs.push({ file, path: 'geometry.sourceSrid', code: g.sourceSrid });
      crsRefs.push({ file, path: 'geometry.targetSrid', code: g.targetSrid });
    }
  }

  for (const name of await listDir(join(dir, 'products'))) {
    const productDir = join(dir, 'products', name);
    if (!(await stat(productDir)).isDirectory()) continue;
    const path = join(productDir, 'product.yaml');
    const file = relative(dir, path);
    const entries = await listDir(productDir);
    if (!entries.includes('product.yaml')) {
      issues.push({ file, path: '', message: 'missing product.yaml' });
      continue;
    }
    const raw = await readYaml(dir, path, issues);
    if (raw === undefined) continue;
    const parsed = Product.safeParse(raw);
    if (!parsed.success) {
      issues.push(...zodIssues(file, parsed.error));
      continue;
    }
    const product = parsed.data;
    const before = issues.length;
    if (product.name !== name)
      issues.push({
        file,
        path: 'name',
        message: `must match the folder name ("${name}"), got "${product.name}"`,
      });
    for (const [alias, input] of Object.entries(product.inputs)) {
      if (!datasets.has(input.dataset))
        issues.push({ file, path: `inputs.${alias}.dataset`, message: `unknown dataset "${input.dataset}"` });
    }
    const stepFiles = product.steps ?? entries.filter((e) => /^\d+_.*\.sql$/.test(e));
    if (stepFiles.length === 0)
      issues.push({ file, path: 'steps', message: 'no SQL steps: add NNN_name.sql files or list `steps`' });
    const steps: { file: string; sql: string }[] = [];
    stepFiles.forEach((f, i) => {
      if (!entries.includes(f))
        issues.push({
          file,
          path: product.steps ? `steps[${i}]` : 'steps',
          message: `SQL file "${f}" not found`,
        });
    });
    for (const f of stepFiles.filter((f) => entries.includes(f))) {
      steps.push({ file: f, sql: await readFile(join(productDir, f), 'utf8') });
    }
    const created = new Set<string>(Object.keys(product.inputs));
    for (const s of steps) for (const t of tablesCreatedBy(s.sql)) created.add(t);
    product.outputs.forEach((o, i) => {
      if (!created.has(o.table))
        issues.push({ file, path: `outputs[${i}].table`, message: `no step creates table "${o.table}"` });
    });
    product.checks.forEach((c, i) => {
      if (!created.has(c.table))
        issues.push({ file, path: `checks[${i}].table`, message: `no step creates table "${c.table}"` });
    });
    product.checks.forEach((c, i) => {
      if (c.type === 'within_bbox') crsRefs.push({ file, path: `checks[${i}].srid`, code: c.srid });
    });
    if (issues.length === before) products.set(product.name, { product, dir: productDir, steps });
  }
  for (const r of await unknownCrs(crsRefs))
    issues.push({
      file: r.file,
      path: r.path,
      message: `EPSG:${r.code} is not a coordinate reference system PROJ knows`,
    });
  return { catalog: { dir, datasets, products }, issues };
}

/** Loads the catalog and throws a CatalogError listing every problem. */
export async function loadCatalogOrThrow(dir: string): Promise<Catalog> {
  const { catalog, issues } = await loadCatalog(dir);
  if (issues.length > 0) throw new CatalogError(issues);
  return catalog;
}
