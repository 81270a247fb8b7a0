import type { Database } from '../ports/database.ts';

/**
 * Runs `fn` with PostgreSQL's JIT compiler off in this session. PostGIS gives its functions high costs
 * (ST_IsValid's plan for 200,000 polygons is costed at five million), so the platform's own one-pass checks
 * cross every JIT threshold and compile with inlining and optimisation, though their time is in GEOS, which
 * JIT cannot speed up: the contract's pass over 200,000 polygons took 290 ms with JIT and 190 ms without.
 * The setting goes back to the server's own for whatever runs next on the session (a product's SQL).
 */
export async function withoutJit<T>(db: Database, fn: () => Promise<T>): Promise<T> {
  return db.session(async () => {
    await db.exec('SET jit = off');
    try {
      return await fn();
    } finally {
      // In a transaction that failed, the SET goes with the rollback and this RESET cannot run.
      await db.exec('RESET jit').catch(() => {});
    }
  });
}
