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
}

/** Requests a second per partner, counted across every instance serving the API. */
export interface RateLimiter {
  /** Counts one request by `partner`; false when it has made `perSecond` already in this second. */
  take(partner: string, perSecond: number): Promise<boolean>;
}
