import { describe, expect, it } from 'vitest';
import { MemoryRateLimiter } from '../../runtime/adapters/local/memory-guards.ts';
import { BURST_SECONDS, burstOf } from '../../runtime/partners/credentials.ts';

describe("a partner's request bucket", () => {
  it('lets a burst through at once, then refills at the sustained rate', async () => {
    // Prepare: 5 a second, 20 at once, on a clock the test moves.
    let now = 1_800_000_000_000;
    const limiter = new MemoryRateLimiter(() => now);
    const take = () => limiter.take('acme', 5, 20);
    // Act
    const burst: boolean[] = [];
    for (let i = 0; i < 21; i++) burst.push(await take());
    now += 199;
    const tooSoon = await take();
    now += 1;
    const refilled = [await take(), await take()];
    now += 10_000;
    const full: boolean[] = [];
    for (let i = 0; i < 21; i++) full.push(await take());
    // Assess
    expect(burst.filter(Boolean)).toHaveLength(20);
    expect(burst[20]).toBe(false);
    expect(tooSoon).toBe(false);
    expect(refilled).toEqual([true, false]);
    expect(full.filter(Boolean)).toHaveLength(20);
  });

  it('counts each partner on its own', async () => {
    // Prepare
    const limiter = new MemoryRateLimiter(() => 0);
    // Act
    const a = [await limiter.take('a', 1, 1), await limiter.take('a', 1, 1)];
    const b = await limiter.take('b', 1, 1);
    // Assess
    expect(a).toEqual([true, false]);
    expect(b).toBe(true);
  });

  it("holds a paging client's run of pages by default: two minutes of its rate", () => {
    // Act + Assess: GDAL 3.6 reads 16,627 features in about 1,700 pages of 10.
    expect(burstOf({ requestsPerSecond: 25 })).toBe(25 * BURST_SECONDS);
    expect(burstOf({ requestsPerSecond: 25 })).toBeGreaterThan(1_700);
    expect(burstOf({ requestsPerSecond: 25, burst: 50 })).toBe(50);
  });
});
