import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import type { CatalogIssue, CatalogSubject } from '../errors.ts';
import { didYouMean } from '../util/suggest.ts';

/** A catalog file's YAML with what it takes to say where a path in it is. */
export interface YamlSource {
  readonly doc: Document;
  readonly lines: LineCounter;
}

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Parses a YAML file; syntax errors come back with their line and column, never as a second parse. */
export function parseYaml(text: string): {
  source: YamlSource;
  errors: { line: number; column: number; message: string }[];
} {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter: lines });
  const errors = doc.errors.map((e) => {
    const { line, col } = lines.linePos(e.pos[0]);
    return { line, column: col, message: e.message };
  });
  return { source: { doc, lines }, errors };
}

/** `columns[2].type` from zod's `['columns', 2, 'type']`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

/**
 * Where `path` is in the document: its value's first character, or with `key`, the last step's key. A path
 * that goes further than the document (a missing key, a shorthand where the path expects a mapping)
 * points at the deepest part that is there.
 */
export function positionOf(
  source: YamlSource,
  path: readonly PropertyKey[],
  options: { key?: boolean } = {},
): Position | undefined {
  let node: Node | null | undefined = source.doc.contents;
  let at: Node | null | undefined = node;
  for (const [i, step] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) break;
      const last = i === path.length - 1;
      at = (last && options.key) || !pair.value ? (pair.key as Node) : (pair.value as Node);
      node = pair.value as Node | null;
      if (last && options.key) break;
    } else if (isSeq(node) && typeof step === 'number' && node.items[step]) {
      node = node.items[step] as Node;
      at = node;
    } else break;
  }
  const offset = at?.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = source.lines.linePos(offset);
  return { line, column: col };
}

// What the walk below needs of zod's schema internals (`_zod.def`), which zod 4 keeps for tools like this.
interface Def {
  type: string;
  shape?: Record<string, Schema>;
  element?: Schema;
  valueType?: Schema;
  items?: Schema[];
  innerType?: Schema;
  in?: Schema;
  options?: Schema[];
  discriminator?: string;
  values?: unknown[];
}
interface Schema {
  _zod: { def: Def };
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'catch', 'readonly', 'nonoptional']);

function literalValues(schema: Schema | undefined): unknown[] {
  let s = schema;
  while (s && WRAPPERS.has(s._zod.def.type)) s = s._zod.def.innerType;
  return s?._zod.def.values ?? [];
}

/**
 * The concrete schemas (past defaults, optionals, pipes and unions) that `schema` may apply to `value`
 * with: of a discriminated union, the option its tag names, or every option when the tag is unknown.
 */
function resolved(schema: Schema | undefined, value: unknown): Schema[] {
  let s = schema;
  while (s && (WRAPPERS.has(s._zod.def.type) || s._zod.def.type === 'pipe'))
    s = s._zod.def.type === 'pipe' ? s._zod.def.in : s._zod.def.innerType;
  if (!s) return [];
  const def = s._zod.def;
  if (def.type !== 'union') return [s];
  const options = (def.options ?? []).flatMap((o) => resolved(o, value));
  const tag = def.discriminator;
  const tagValue =
    tag && value && typeof value === 'object' ? (value as Record<string, unknown>)[tag] : undefined;
  const chosen =
    tag && tagValue !== undefined
      ? options.filter((o) => literalValues(o._zod.def.shape?.[tag]).includes(tagValue))
      : [];
  return chosen.length > 0 ? chosen : options;
}

/** The schema for one step into `schema` (a key of an object, an item of an array or record). */
function child(schema: Schema, value: unknown, step: PropertyKey): Schema | undefined {
  for (const s of resolved(schema, value)) {
    const def = s._zod.def;
    const next =
      def.type === 'object'
        ? def.shape?.[String(step)]
        : def.type === 'array'
          ? def.element
          : def.type === 'record'
            ? def.valueType
            : def.type === 'tuple'
              ? def.items?.[Number(step)]
              : undefined;
    if (next) return next;
  }
  return undefined;
}

/** The keys an object at `path` may have, for "did you mean" on an unknown one. */
export function keysAt(schema: Schema, raw: unknown, path: readonly PropertyKey[]): string[] {
  let s: Schema | undefined = schema;
  let value = raw;
  for (const step of path) {
    s = s && child(s, value, step);
    value = value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[step] : undefined;
  }
  const keys = resolved(s, value).flatMap((o) => Object.keys(o._zod.def.shape ?? {}));
  return [...new Set(keys)];
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const step of path)
    v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[step] : undefined;
  return v;
}

/**
 * zod's issues as catalog problems: each with its line and column in the file, unknown keys named one by
 * one at the key itself, and a "did you mean" for an unknown key or a value not among those allowed.
 */
export function schemaIssues(
  file: string,
  error: z.ZodError,
  schema: z.ZodType,
  raw: unknown,
  source: YamlSource,
  subject: CatalogSubject,
): CatalogIssue[] {
  const out: CatalogIssue[] = [];
  const add = (path: readonly PropertyKey[], message: string, key = false) =>
    out.push({ file, ...positionOf(source, path, { key }), path: formatPath(path), message, subject });
  for (const issue of error.issues) {
    const i = issue as z.core.$ZodIssue & { values?: unknown[]; options?: unknown[]; expected?: string };
    if (i.code === 'unrecognized_keys') {
      const known = keysAt(schema as unknown as Schema, raw, i.path);
      for (const key of i.keys) add([...i.path, key], `unknown key "${key}"${didYouMean(key, known)}`, true);
      continue;
    }
    const value = valueAt(raw, i.path);
    const allowed = i.values ?? i.options;
    if (allowed && (typeof value === 'string' || typeof value === 'number'))
      add(i.path, `${i.message}${didYouMean(String(value), allowed.map(String))}`);
    else if (i.code === 'invalid_type' && value === undefined)
      add(i.path, `missing: expected ${i.expected ?? 'a value'}`);
    else add(i.path, i.message);
  }
  return out;
}
