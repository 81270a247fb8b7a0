import type { NonceStore, RateLimiter } from '../../ports/request-guards.ts';

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
}

/** Fixed one-second windows per partner, in this process's memory. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { second: number; count: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async take(partner: string, perSecond: number): Promise<boolean> {
    const second = Math.floor(this.now() / 1000);
    const w = this.windows.get(partner);
    if (!w || w.second !== second) {
      this.windows.set(partner, { second, count: 1 });
      return true;
    }
    if (w.count >= perSecond) return false;
    w.count++;
    return true;
  }
}
