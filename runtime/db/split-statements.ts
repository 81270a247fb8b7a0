/**
 * Splits a SQL script into statements, for the RDS Data API, which runs one statement per call. Semicolons
 * inside quotes, quoted identifiers, dollar-quoted bodies and comments do not split.
 */
export function splitStatements(script: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const n = script.length;
  const push = (end: number) => {
    const s = script.slice(start, end).trim();
    if (s.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, '').trim()) out.push(s);
  };
  while (i < n) {
    const c = script[i]!;
    if (c === '-' && script[i + 1] === '-') {
      const nl = script.indexOf('\n', i);
      i = nl === -1 ? n : nl + 1;
    } else if (c === '/' && script[i + 1] === '*') {
      const end = script.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      for (;;) {
        const q = script.indexOf(c, j);
        if (q === -1) {
          j = n;
          break;
        }
        if (script[q + 1] === c) j = q + 2;
        else {
          j = q + 1;
          break;
        }
      }
      i = j;
    } else if (c === '$') {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(script.slice(i, i + 64));
      if (m) {
        const end = script.indexOf(m[0], i + m[0].length);
        i = end === -1 ? n : end + m[0].length;
      } else i++;
    } else if (c === ';') {
      push(i);
      start = ++i;
    } else i++;
  }
  push(n);
  return out;
}
