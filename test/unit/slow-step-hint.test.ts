import { describe, expect, it } from 'vitest';
import { SLOW_STEP_MS, slowStepHint } from '../../bin/cli/output.ts';

describe('the hint after a slow step on the embedded database', () => {
  it('comes after a step of a minute or more on PGlite, once a command, never on a server', () => {
    const quick = { name: '010_join.sql', ms: SLOW_STEP_MS - 1 };
    const slow = { name: '010_join.sql', ms: 195_000 };
    expect(slowStepHint('pglite', quick)).toBeUndefined();
    expect(slowStepHint('postgres', slow)).toBeUndefined();
    expect(slowStepHint('pglite', slow)).toMatch(
      /^hint: 010_join\.sql took 195 s on the embedded database, .* strata db move --to postgres:\/\/… moves this home/,
    );
    // Once said, not again for the next slow step of the same command.
    expect(slowStepHint('pglite', { name: 'export places.fgb', ms: 64_000 })).toBeUndefined();
  });
});
