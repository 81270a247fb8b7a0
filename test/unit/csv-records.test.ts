import { describe, expect, it } from 'vitest';
import { lineOfRecord, RecordTooLargeError, recordChunks } from '../../runtime/load/csv-records.ts';

async function* pieces(text: string, size: number): AsyncGenerator<Buffer> {
  const buf = Buffer.from(text);
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function collect(text: string, size: number, targetBytes = 16) {
  const out: { text: string; rows: number }[] = [];
  for await (const c of recordChunks(pieces(text, size), { targetBytes }))
    out.push({ text: c.data.toString(), rows: c.rows });
  return out;
}

const CSV = 'a,b\n1,"x\ny"\n2,"say ""hi"", then\n\nbye"\n3,plain\n4,"a,b"\n';

describe('recordChunks', () => {
  it.each([1, 2, 3, 5, 7, 64, 4096])(
    'cuts on record ends whatever the read size (%i bytes)',
    async (size) => {
      const chunks = await collect(CSV, size);
      expect(chunks[0]).toEqual({ text: 'a,b\n', rows: 1 });
      expect(chunks.map((c) => c.text).join('')).toBe(CSV);
      expect(chunks.slice(1).reduce((n, c) => n + c.rows, 0)).toBe(4);
      for (const c of chunks) expect(c.text.endsWith('\n')).toBe(true);
    },
  );

  it('counts a last record with no newline, and drops blank lines at the end', async () => {
    expect((await collect('h\n1\n2', 1)).slice(1)).toEqual([{ text: '1\n2', rows: 2 }]);
    expect((await collect('h\n1\n2\n\n\r\n\n', 3)).slice(1)).toEqual([{ text: '1\n2\n', rows: 2 }]);
  });

  it('yields a header with no data, and nothing for an empty file', async () => {
    expect(await collect('a,b\n', 2)).toEqual([{ text: 'a,b\n', rows: 1 }]);
    expect(await collect('', 2)).toEqual([]);
  });

  it('stops a runaway record (an unclosed quote) at the limit', async () => {
    const text = `h\n1\n"${'x'.repeat(500)}`;
    const run = async () => {
      for await (const _ of recordChunks(pieces(text, 50), { maxRecordBytes: 200 })) void _;
    };
    await expect(run()).rejects.toBeInstanceOf(RecordTooLargeError);
    await expect(run()).rejects.toMatchObject({ record: 3 });
  });

  it('finds the physical line a record starts on', async () => {
    expect(await lineOfRecord(pieces(CSV, 3), 1)).toBe(1);
    expect(await lineOfRecord(pieces(CSV, 3), 2)).toBe(2);
    expect(await lineOfRecord(pieces(CSV, 3), 3)).toBe(4);
    expect(await lineOfRecord(pieces(CSV, 3), 4)).toBe(7);
  });
});
