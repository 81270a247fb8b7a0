import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseSync } from 'oxc-parser';
import { describe, expect, it } from 'vitest';

/**
 * A test is named by the behaviour it protects. A title that names the point of an issue, or a number in
 * a list kept elsewhere, tells a maintainer nothing once that issue is out of sight, and cannot be found by
 * what it checks.
 */
const NAMED_AFTER_ELSEWHERE: readonly { why: string; re: RegExp }[] = [
  { why: "names an issue's point", re: /\bpoints? \d+[a-z]?\b/i },
  { why: 'names an issue', re: /\bissue #?\d+\b/i },
  { why: 'is numbered after a list kept elsewhere', re: /^\d+[a-z]?[.:)]\s/ },
];

const TEST_ROOT = join(import.meta.dirname, '..');
const TEST_FUNCTIONS = new Set(['it', 'test', 'describe', 'suite', 'bench']);

type Node = { type: string; start: number; [key: string]: unknown };

interface Title {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

/** `it`, `describe.each(x)`, `it.skipIf(y)`: the name the chain starts from. */
function rootName(callee: Node): string | undefined {
  let node: Node | undefined = callee;
  while (node) {
    if (node.type === 'Identifier') return node.name as string;
    if (node.type === 'MemberExpression') node = node.object as Node;
    else if (node.type === 'CallExpression') node = node.callee as Node;
    else return undefined;
  }
  return undefined;
}

/** A title as it reads in the source: a template's expressions as `{…}`. */
function titleText(arg: Node | undefined): string | undefined {
  if (arg?.type === 'Literal' && typeof arg.value === 'string') return arg.value;
  if (arg?.type === 'TemplateLiteral')
    return (arg.quasis as { value: { cooked: string } }[]).map((q) => q.value.cooked).join('{…}');
  return undefined;
}

/** Every title given to it/test/describe (and their .each/.skipIf/... forms) in a source text. */
function titlesIn(file: string, text: string): Title[] {
  const lineOf = (offset: number) => text.slice(0, offset).split('\n').length;
  const out: Title[] = [];
  const visit = (node: Node): void => {
    if (node.type === 'CallExpression' && TEST_FUNCTIONS.has(rootName(node.callee as Node) ?? '')) {
      const title = titleText((node.arguments as Node[])[0]);
      if (title !== undefined) out.push({ file, line: lineOf(node.start), text: title });
    }
    for (const value of Object.values(node)) {
      const children = Array.isArray(value) ? value : [value];
      for (const child of children)
        if (child && typeof child === 'object' && typeof (child as Node).type === 'string')
          visit(child as Node);
    }
  };
  visit(parseSync(file, text).program as unknown as Node);
  return out;
}

function testSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'fixtures' ? [] : testSources(path);
    return /\.(ts|mts)$/.test(e.name) ? [path] : [];
  });
}

const misnamed = (titles: readonly Title[]) =>
  titles.flatMap((t) =>
    NAMED_AFTER_ELSEWHERE.filter((r) => r.re.test(t.text)).map(
      (r) => `${t.file}:${t.line} ${r.why}: "${t.text}"`,
    ),
  );

describe('test titles', () => {
  it('finds titles in every form the suite writes them, and tells one named after an issue point', () => {
    const source = [
      "it('point 3: a thing', () => {});",
      'describe.each(engines())(`on $name, issue 9`, () => {});',
      "it.skipIf(x)(\n  '4a. numbered',\n  LONG,\n  async () => {},\n);",
      "test('keeps every version it archived', () => {});",
      "expect('point 5').toBe('point 5');",
    ].join('\n');
    const titles = titlesIn('sample.test.ts', source);
    expect(titles.map((t) => [t.line, t.text])).toEqual([
      [1, 'point 3: a thing'],
      [2, 'on $name, issue 9'],
      [3, '4a. numbered'],
      [8, 'keeps every version it archived'],
    ]);
    expect(misnamed(titles)).toEqual([
      `sample.test.ts:1 names an issue's point: "point 3: a thing"`,
      'sample.test.ts:2 names an issue: "on $name, issue 9"',
      'sample.test.ts:3 is numbered after a list kept elsewhere: "4a. numbered"',
    ]);
  });

  it('names every test by the behaviour it protects, never after an issue point', () => {
    const titles = testSources(TEST_ROOT).flatMap((path) =>
      titlesIn(relative(join(TEST_ROOT, '..'), path), readFileSync(path, 'utf8')),
    );
    // The suite has hundreds of tests: a walk that found few would pass without looking.
    expect(titles.length).toBeGreaterThan(500);
    expect(misnamed(titles)).toEqual([]);
  });
});
