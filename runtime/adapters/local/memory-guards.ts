import { type NonceStore, nextArrival, type RateLimiter } from '../../ports/request-guards.ts';

/** Nonces in this process's memory: right for `strata serve`, which is one process. */
export class MemoryNonceStore implements NonceStore {
  private readonly expiries = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async remember(nonce: string, seconds: number): Promise<boolean> {
    const now = this.now();
    // Sweeping on the way keeps the map to the nonces of the last window.
    if (this.expiries.size > 10_000)
      for (const [n, until] of this.expiries) if (until <= now) this.expiries.delete(n);
    const until = this.expiries.get(nonce);
    if (until !== undefined && until > now) return false;
    this.expiries.set(nonce, now + seconds * 1000);
    return true;
  }

  async remembers(nonce: string): Promise<boolean> {
    return (this.expiries.get(nonce) ?? 0) > this.now();
  }
}

/** A bucket per partner (see RateLimiter), in this process's memory. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly arrivals = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async take(partner: string, perSecond: number, burst = perSecond): Promise<boolean> {
    const now = this.now();
    // Sweeping on the way keeps the map to the partners whose buckets are not yet full again.
    if (this.arrivals.size > 10_000)
      for (const [p, tat] of this.arrivals) if (tat <= now) this.arrivals.delete(p);
    const next = nextArrival(this.arrivals.get(partner), now, perSecond, burst);
    if (next === undefined) return false;
    this.arrivals.set(partner, next);
    return true;
  }
}
