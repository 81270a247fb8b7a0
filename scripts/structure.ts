/**
 * The house rules that code review alone did not keep (they slipped from 0 to 4 import cycles between 9k and
 * 29k lines): dependencies point one way, functions stay readable, and each platform table and the bucket
 * layout have one owner. `npm run check:structure` prints every breach; the test suite runs the same check.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { parseSync } from 'oxc-parser';

/**
 * Rooms of `runtime/`, highest first: a room may import from rooms below it, never from one above it.
 * Doors (serve, http, console, portal, triggers) call jobs; jobs call the pipeline's steps (products, qa, publish,
 * contracts, load) over the stores (archive: dataset versions, their current pointer and quarantine;
 * federation); `catalog-files` reads the catalog from disk (it asks GDAL's PROJ about CRS codes, so it sits
 * above the adapters); `platform` is what a job is given, made
 * from adapters; adapters implement the ports over the records (runs, cost, partners); a port owns the
 * messages that cross it, so it needs nothing above the shared vocabulary (catalog, layout, errors, util).
 */
export const RUNTIME_ROOMS = [
  'serve',
  'http',
  'console',
  // beside the console (both are mounted by http, neither imports the other): the partner staff's pages,
  // which stand on web's sessions, uploads and published reads as the console does
  'portal',
  // below http and the console it mounts: what both stand on (request context, problems, auth, the door)
  'web',
  'triggers',
  'aws',
  'jobs',
  // a database made again from the buckets: it uses the pipeline's steps and stores below, and a job above
  // may run it (on AWS, as a task)
  'rebuild',
  'products',
  'qa',
  'publish',
  'contracts',
  'load',
  'archive',
  'federation',
  'catalog-files',
  // a partner's side: `strata sync` keeps a copy of a collection (GeoPackage through GDAL, or PostGIS)
  'sync',
  'platform',
  'adapters',
  'runs',
  'cost',
  'partners',
  'db',
  'ports',
  'features',
  'layout',
  'catalog',
  'errors',
  'version',
  'util',
] as const;

/** Top-level folders, highest first; `runtime/` is the floor that imports none of the others. */
export const TOP_FOLDERS = ['bin', 'bench', 'lambdas', 'tasks', 'lib', 'runtime'] as const;

export const MAX_FUNCTION_LINES = 80;

/** Files made by a tool, not written by hand: their length is not a reading problem. */
const GENERATED = [/^runtime\/db\/migrations-resource\.ts$/];

export interface Breach {
  rule: 'cycle' | 'upward-import' | 'long-function' | 'table-owner' | 'bucket-key';
  file: string;
  message: string;
}

interface SourceFile {
  path: string;
  text: string;
  parsed: ReturnType<typeof parseSync>;
}

function listTs(root: string, folder: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (name === 'node_modules' || name === 'client') continue;
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts') && !name.endsWith('.d.mts'))
        out.push(full);
    }
  };
  walk(join(root, folder));
  return out.map((f) => relative(root, f).split(sep).join('/')).sort();
}

function load(root: string): SourceFile[] {
  return TOP_FOLDERS.flatMap((folder) => listTs(root, folder)).map((path) => {
    const text = readFileSync(join(root, path), 'utf8');
    return { path, text, parsed: parseSync(path, text) };
  });
}

/** Relative specifiers only: packages are outside the house. `.js` in a specifier names the `.ts` file. */
function importsOf(file: SourceFile, known: Set<string>): string[] {
  const { module } = file.parsed;
  const specs = [
    ...module.staticImports.map((i) => i.moduleRequest.value),
    ...module.staticExports.flatMap((e) => e.entries.map((x) => x.moduleRequest?.value)),
    ...module.dynamicImports.map((d) => file.text.slice(d.moduleRequest.start, d.moduleRequest.end)),
  ]
    .filter((s): s is string => typeof s === 'string')
    .map((s) => s.replace(/^['"`]|['"`]$/g, ''));
  const targets = new Set<string>();
  for (const spec of specs) {
    if (!spec.startsWith('.')) continue;
    const base = normalize(join(dirname(file.path), spec))
      .split(sep)
      .join('/');
    const candidates = [base, base.replace(/\.m?js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`];
    const hit = candidates.find((c) => known.has(c));
    if (hit) targets.add(hit);
  }
  return [...targets];
}

function roomOf(path: string): { top: string; room?: string } {
  const parts = path.split('/');
  const top = parts[0] ?? '';
  if (top !== 'runtime') return { top };
  const room = parts.length > 2 ? parts[1] : parts[1]?.replace(/\.ts$/, '');
  return room === undefined ? { top } : { top, room };
}

function rank<T extends string>(list: readonly T[], value: string | undefined): number {
  return value === undefined ? -1 : list.indexOf(value as T);
}

function upwardBreach(from: string, to: string): string | undefined {
  const a = roomOf(from);
  const b = roomOf(to);
  if (a.top !== b.top) {
    const ra = rank(TOP_FOLDERS, a.top);
    const rb = rank(TOP_FOLDERS, b.top);
    if (ra >= 0 && rb >= 0 && rb < ra) return `${a.top}/ may not import from ${b.top}/ (it sits above)`;
    if (a.top === 'lambdas' || a.top === 'tasks' || a.top === 'lib') {
      if (b.top === 'lambdas' || b.top === 'tasks' || b.top === 'lib')
        return `${a.top}/ may not import from ${b.top}/ (siblings share code through runtime/)`;
    }
    return undefined;
  }
  if (a.top !== 'runtime' || a.room === b.room) return undefined;
  const ra = rank(RUNTIME_ROOMS, a.room);
  const rb = rank(RUNTIME_ROOMS, b.room);
  if (ra < 0) return `runtime/${a.room} is not a known room: add it to RUNTIME_ROOMS in scripts/structure.ts`;
  if (rb < 0) return `runtime/${b.room} is not a known room: add it to RUNTIME_ROOMS in scripts/structure.ts`;
  if (rb < ra) return `runtime/${a.room} may not import from runtime/${b.room} (it sits above)`;
  return undefined;
}

/** Tarjan's strongly connected components: every component of more than one file is a cycle. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const found: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return found;
}

type Node = { type: string; start: number; end: number; [key: string]: unknown };

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

function nameOf(node: Node, parent: Node | undefined): string {
  const id = node.id as Node | null | undefined;
  if (id && typeof id.name === 'string') return id.name;
  const key = parent?.key as Node | undefined;
  if (key && typeof key.name === 'string') return key.name;
  const pid = parent?.id as Node | undefined;
  if (pid && typeof pid.name === 'string') return pid.name;
  if (parent?.type === 'CallExpression') return 'a callback';
  return '(anonymous)';
}

/** The 1-based line of an offset in `text`. */
function lineFinder(text: string): (offset: number) => number {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  return (offset: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

/** Calls `each` on every node of the tree, with its parent. */
function walk(root: Node, each: (node: Node, parent: Node | undefined) => void): void {
  const visit = (node: Node, parent: Node | undefined): void => {
    each(node, parent);
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) {
        for (const child of value)
          if (child && typeof child === 'object' && typeof (child as Node).type === 'string')
            visit(child as Node, node);
      } else if (value && typeof value === 'object' && typeof (value as Node).type === 'string')
        visit(value as Node, node);
    }
  };
  visit(root, undefined);
}

function longFunctions(file: SourceFile): Breach[] {
  if (!file.path.startsWith('runtime/') || GENERATED.some((re) => re.test(file.path))) return [];
  const lineOf = lineFinder(file.text);
  const breaches: Breach[] = [];
  walk(file.parsed.program as unknown as Node, (node, parent) => {
    if (FUNCTION_TYPES.has(node.type)) {
      const first = lineOf(node.start);
      const lines = lineOf(node.end) - first + 1;
      if (lines > MAX_FUNCTION_LINES)
        breaches.push({
          rule: 'long-function',
          file: `${file.path}:${first}`,
          message: `${nameOf(node, parent)} is ${lines} lines (at most ${MAX_FUNCTION_LINES})`,
        });
    }
  });
  return breaches;
}

/** The one module that spells the buckets' keys. */
export const BUCKET_LAYOUT = 'runtime/layout/buckets.ts';

/**
 * What a key spelled by hand looks like, in a string, a template (each `${…}` read as `*`) or a regular
 * expression: an object name of the layout at the end of a path (`${prefix}manifest.json`, `'metadata.json'`);
 * a bucket's top folder opening a prefix (`datasets/${name}/`); or a path three deep under a top folder
 * other than `products/`. Catalog files are not keys and stay clear of all three: `datasets/<name>.yaml` is
 * one deep, and `products/<name>/product.yaml` or `products/<name>/<step>.sql` neither ends with a slash nor
 * names an object of the layout (which is why `products/` has no three-deep pattern). Words in messages
 * ("without metadata.json") and URL paths (`/products/<name>/latest`) do not start where a key starts.
 */
const KEY_SHAPES = [
  /(^|[/*])(metadata|manifest|latest|current|receipt|release|qa)\.(json|html)$/,
  /(^|[/*])(received|events|loads|qa-rows)\//,
  /^(datasets|products|quarantine|partners|runs)\/([^/]*\/)*$/,
  /^(datasets|quarantine|partners|runs)\/[^/]+\/[^/]+\/?/,
];

/** The text of a literal as a key would read: templates with `*` for each substitution, regexes unescaped. */
function literalText(node: Node): string | undefined {
  if (node.type === 'Literal') {
    const regex = node.regex as { pattern: string } | undefined;
    if (regex) return regex.pattern.replace(/^\^|\$$/g, '').replace(/\\([./])/g, '$1');
    return typeof node.value === 'string' ? node.value : undefined;
  }
  if (node.type === 'TemplateLiteral')
    return (node.quasis as { value: { cooked: string | null; raw: string } }[])
      .map((q) => q.value.cooked ?? q.value.raw)
      .join('*');
  return undefined;
}

/** Literals of a `runtime/` file (outside the layout) that spell a bucket key. */
export function bucketKeys(file: {
  path: string;
  text: string;
  parsed?: ReturnType<typeof parseSync>;
}): Breach[] {
  if (!file.path.startsWith('runtime/') || file.path === BUCKET_LAYOUT) return [];
  const parsed = file.parsed ?? parseSync(file.path, file.text);
  const lineOf = lineFinder(file.text);
  const breaches: Breach[] = [];
  walk(parsed.program as unknown as Node, (node) => {
    const text = literalText(node);
    if (text === undefined || !KEY_SHAPES.some((re) => re.test(text))) return;
    breaches.push({
      rule: 'bucket-key',
      file: `${file.path}:${lineOf(node.start)}`,
      message: `${file.text.slice(node.start, node.end).slice(0, 80)} spells a bucket key: ask ${BUCKET_LAYOUT} for it`,
    });
  });
  return breaches;
}

/** The platform's tables, from the migrations: each may be named in SQL by one module of `runtime/` only. */
function platformTables(root: string): string[] {
  const names = new Set<string>();
  for (const name of readdirSync(join(root, 'sql'))) {
    if (!name.endsWith('.sql')) continue;
    const sql = readFileSync(join(root, 'sql', name), 'utf8');
    for (const m of sql.matchAll(/CREATE\s+(?:TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?strata\.([a-z_]+)/gi))
      names.add(m[1]!.toLowerCase());
  }
  return [...names].sort();
}

function tableOwners(root: string, files: SourceFile[]): Breach[] {
  const breaches: Breach[] = [];
  // Code that runs; bench/ and tests may look at tables directly, as a person with psql would.
  const runtime = files.filter((f) => /^(runtime|lambdas|tasks|bin)\//.test(f.path));
  for (const table of platformTables(root)) {
    const re = new RegExp(`\\bstrata\\.${table}\\b`, 'i');
    const users = runtime.filter((f) => re.test(f.text)).map((f) => f.path);
    if (users.length > 1)
      breaches.push({
        rule: 'table-owner',
        file: users.join(', '),
        message: `strata.${table} is named in SQL by ${users.length} modules; one module should own it`,
      });
  }
  return breaches;
}

export function checkStructure(root: string): Breach[] {
  const files = load(root);
  const known = new Set(files.map((f) => f.path));
  const graph = new Map<string, string[]>();
  const breaches: Breach[] = [];
  for (const file of files) {
    const targets = importsOf(file, known);
    graph.set(file.path, targets);
    for (const target of targets) {
      const why = upwardBreach(file.path, target);
      if (why)
        breaches.push({ rule: 'upward-import', file: file.path, message: `imports ${target}: ${why}` });
    }
    breaches.push(...longFunctions(file), ...bucketKeys(file));
  }
  for (const component of cycles(graph))
    breaches.push({
      rule: 'cycle',
      file: component[0]!,
      message: `import cycle through ${component.length} files: ${component.join(' → ')}`,
    });
  breaches.push(...tableOwners(root, files));
  return breaches;
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].split(sep).join('/'));
if (isMain) {
  const root = join(dirname(new URL(import.meta.url).pathname), '..');
  const breaches = checkStructure(root);
  const json = process.argv.includes('--json');
  if (json) process.stdout.write(`${JSON.stringify(breaches, null, 2)}\n`);
  else {
    for (const b of breaches)
      process.stdout.write(`${b.rule.padEnd(14)} ${b.file}\n               ${b.message}\n`);
    const counts = new Map<string, number>();
    for (const b of breaches) counts.set(b.rule, (counts.get(b.rule) ?? 0) + 1);
    process.stdout.write(
      breaches.length === 0
        ? 'structure: no cycle, no upward import, no function over 80 lines, one owner per table and for bucket keys\n'
        : `structure: ${[...counts].map(([r, n]) => `${n} ${r}`).join(', ')}\n`,
    );
  }
  process.exitCode = breaches.length === 0 ? 0 : 1;
}
