import { describe, expect, it } from 'vitest';
import { MAX_RESPONSE_BYTES, toResult } from '../../runtime/http/lambda.ts';

const MB = 1024 * 1024;

describe('a response through Lambda', () => {
  it('is measured as the JSON Lambda sends, escapes and base64 included, and refused with a reason over 6 MB', async () => {
    // Prepare: bodies whose bytes fit under 5.5 MB but whose JSON does not, and one that fits.
    const quotes = new Response('"'.repeat(4 * MB), { headers: { 'content-type': 'text/html' } });
    const binary = new Response(new Uint8Array(5 * MB), {
      headers: { 'content-type': 'application/octet-stream' },
    });
    const page = new Response(`<p>${'x'.repeat(MB)}</p>`, { headers: { 'content-type': 'text/html' } });

    // Act
    const [q, b, p] = await Promise.all([toResult(quotes), toResult(binary), toResult(page)]);

    // Assess: the first two would make Lambda fail the call (a bare 502); they say why instead.
    for (const r of [q, b]) {
      expect(r.statusCode).toBe(400);
      expect(JSON.parse(r.body!).detail).toMatch(/over the 5\.8 MB a response can carry here/);
    }
    expect(p.statusCode).toBe(200);
    expect(p.body).toBe(`<p>${'x'.repeat(MB)}</p>`);
    // What the console sends whole is sure to fit, whatever its text.
    expect(2 * MAX_RESPONSE_BYTES).toBeLessThan(6 * MB);
  });
});
