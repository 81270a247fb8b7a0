/**
 * Hawk's replay guard: remembers nonces for as long as a request carrying one could still be accepted. On
 * AWS every function instance must see the same store (a DynamoDB table); locally one process serves.
 */
export interface NonceStore {
  /**
   * Records `nonce` for `seconds`; false when it was recorded before and has not expired (a replay).
   * Throws when the store cannot answer: the caller then refuses the request rather than risk a replay.
   */
  remember(nonce: string, seconds: number): Promise<boolean>;
  /**
   * Whether `nonce` was recorded and has not expired, without recording it: how a console session signed
   * out on one instance is refused by every other. Throws when the store cannot answer.
   */
  remembers(nonce: string): Promise<boolean>;
}

/**
 * Requests per partner, counted across every instance serving the API, as a bucket of `burst` requests that
 * refills at `perSecond` (the generic cell rate algorithm: one stored time per partner). A bucket rather than
 * fixed one-second windows, because a paging client's requests come in one long run.
 */
export interface RateLimiter {
  /**
   * Counts one request by `partner`; false when its bucket is empty. With `burst` 1 request per
   * 1/perSecond seconds is allowed; @default burst perSecond (a second's worth at once).
   */
  take(partner: string, perSecond: number, burst?: number): Promise<boolean>;
}

/**
 * The rule every limiter applies: `tat` is the time (ms) by which the partner's bucket would be full again
 * (the "theoretical arrival time"); a request is allowed while that is at most `burst - 1` intervals ahead of
 * now, and moves it one interval on.
 */
export function nextArrival(
  tat: number | undefined,
  now: number,
  perSecond: number,
  burst: number,
): number | undefined {
  const interval = 1000 / perSecond;
  const from = Math.max(tat ?? now, now);
  return from - now > (burst - 1) * interval ? undefined : from + interval;
}
