/**
 * Newlines in `buf[from, to)`: physical lines, quoted newlines included, as PostgreSQL counts them in COPY
 * and as an editor numbers a file's lines.
 */
export function countNewlines(buf: Uint8Array, from = 0, to = buf.length): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a, from); i !== -1 && i < to; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}
