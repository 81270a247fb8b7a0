/**
 * How long the current Lambda invocation may still wait: set when it starts, from the context's remaining
 * time less a margin (to answer, log and flush metrics before the function is cut off), and read by every
 * wait inside it (the Data API's resume wait). A function runs one invocation at a time, so one budget per
 * function instance is enough; outside an invocation there is no limit.
 */
export class WaitBudget {
  private deadline = Number.POSITIVE_INFINITY;

  constructor(private readonly now: () => number = Date.now) {}

  /** An invocation began with `remainingMs` before its function times out; waits end `marginMs` before that. */
  start(remainingMs: number, marginMs: number): void {
    if (!Number.isFinite(remainingMs) || remainingMs < 0)
      throw new Error(`\`remainingMs\` must be a finite number of milliseconds, got: ${remainingMs}.`);
    this.deadline = this.now() + remainingMs - marginMs;
  }

  /** Milliseconds a wait may still take: 0 once spent, Infinity outside an invocation. */
  left(): number {
    return Math.max(0, this.deadline - this.now());
  }

  /** The invocation ended: no limit until the next one starts. */
  end(): void {
    this.deadline = Number.POSITIVE_INFINITY;
  }
}

/**
 * What each function keeps back from its remaining time: enough to answer (a 503 with Retry-After, or a
 * thrown error its event source retries), write its logs and flush its metrics. API Gateway counts its 29 s
 * from before the function starts, so an HTTP function keeps more.
 */
export const WAIT_MARGIN_MS = { event: 3_000, http: 5_000 } as const;
