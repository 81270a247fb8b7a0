import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { errorMessage, zodSentence } from '../../bin/cli/output.ts';
import { PartnerDirectoryDoc } from '../../runtime/ports/partner-directory.ts';

describe("the command line's refusals", () => {
  it("says a schema's refusal as one sentence: where, and what is wrong there, never zod's issue array", () => {
    // Prepare
    const doc = PartnerDirectoryDoc.safeParse({
      signingKey: 'k'.repeat(43),
      partners: { 'bar-partner': {}, ok: { requestsPerSecond: 0, scopes: ['nope'] } },
    });
    // Act
    const sentence = zodSentence(doc.error!);
    // Assess
    expect(sentence).not.toContain('\n');
    expect(sentence).not.toMatch(/[[{]\s*"/);
    expect(sentence).toContain(
      '"bar-partner" is not a valid name in partners: it must start with a lowercase letter and use only a-z, 0-9 and _',
    );
    expect(sentence).toMatch(/partners\.ok\.requestsPerSecond: /);
    expect(sentence).toMatch(/partners\.ok\.scopes\[0\]: /);
  });

  it('keeps any other error its own message', () => {
    // Act + Assess
    expect(errorMessage(new Error('file not found: x.csv'))).toBe('file not found: x.csv');
    expect(errorMessage(z.object({ a: z.string() }).safeParse({}).error)).toMatch(/^a: /);
  });
});
