import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Breach, checkStructure, MAX_FUNCTION_LINES } from '../../scripts/structure.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** A small house on disk: files by path, and the migrations the table rule reads. */
function house(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'strata-structure-'));
  made.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}
const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

const MIGRATION = { 'sql/001_platform.sql': 'CREATE TABLE strata.runs (id text);\n' };
const rules = (breaches: Breach[]) => breaches.map((b) => `${b.rule} ${b.file}`).sort();

describe('the house rules (scripts/structure.ts)', () => {
  it('hold for this checkout: no cycle, no upward import, no long function, one owner per table', () => {
    const breaches = checkStructure(ROOT);
    // The message lists every breach, so a failing run says what to fix without running the script.
    expect(breaches.map((b) => `${b.rule} ${b.file}: ${b.message}`)).toEqual([]);
  });

  it('finds an import cycle, even inside one room', () => {
    const root = house({
      ...MIGRATION,
      'runtime/util/a.ts': "import { b } from './b.ts';\nexport const a = () => b;\n",
      'runtime/util/b.ts': "import { a } from './a.ts';\nexport const b = () => a;\n",
    });
    expect(rules(checkStructure(root))).toEqual(['cycle runtime/util/a.ts']);
  });

  it('finds a lower room importing a higher one, and a runtime file importing a Lambda', () => {
    const root = house({
      ...MIGRATION,
      'runtime/util/low.ts': "import type { H } from '../jobs/high.ts';\nexport type L = H;\n",
      'runtime/jobs/high.ts': "export type H = string;\nexport { x } from '../../lambdas/x/handler.ts';\n",
      'lambdas/x/handler.ts': "import { y } from '../../runtime/util/low.ts';\nexport const x = y;\n",
    });
    const found = rules(checkStructure(root));
    expect(found).toContain('upward-import runtime/util/low.ts');
    expect(found).toContain('upward-import runtime/jobs/high.ts');
    expect(found.filter((r) => r.startsWith('upward-import'))).toHaveLength(2);
  });

  it('counts dynamic imports, and lets a room import from below', () => {
    const root = house({
      ...MIGRATION,
      'runtime/jobs/run.ts': "export const run = () => import('../util/tool.ts');\n",
      'runtime/util/tool.ts': "export const tool = () => import('../jobs/run.ts');\n",
    });
    expect(rules(checkStructure(root))).toEqual([
      'cycle runtime/jobs/run.ts',
      'upward-import runtime/util/tool.ts',
    ]);
  });

  it(`finds a function over ${MAX_FUNCTION_LINES} lines in runtime/, not one of exactly that length`, () => {
    const body = (n: number) => Array.from({ length: n - 2 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const root = house({
      ...MIGRATION,
      'runtime/util/long.ts': `export function long() {\n${body(MAX_FUNCTION_LINES + 1)}\n}\n`,
      'runtime/util/fits.ts': `export const fits = () => {\n${body(MAX_FUNCTION_LINES)}\n};\n`,
      'bin/cli.ts': `export function cli() {\n${body(MAX_FUNCTION_LINES + 20)}\n}\n`,
    });
    const breaches = checkStructure(root);
    expect(rules(breaches)).toEqual(['long-function runtime/util/long.ts:1']);
    expect(breaches[0]!.message).toBe(
      `long is ${MAX_FUNCTION_LINES + 1} lines (at most ${MAX_FUNCTION_LINES})`,
    );
  });

  it('finds a platform table named in SQL by two modules', () => {
    const root = house({
      ...MIGRATION,
      'runtime/runs/registry.ts': "export const q = 'SELECT * FROM strata.runs';\n",
      'runtime/jobs/peek.ts': "export const p = 'UPDATE strata.runs SET id = id';\n",
      'runtime/jobs/other.ts': "export const o = 'SELECT * FROM strata.runs_archive';\n",
    });
    const breaches = checkStructure(root);
    expect(rules(breaches)).toEqual(['table-owner runtime/jobs/peek.ts, runtime/runs/registry.ts']);
  });
});
