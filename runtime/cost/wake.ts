/**
 * A run recorded moments after the database came up was what woke it: the trigger that records a run is the
 * first thing to reach a paused cluster, and resuming takes up to about 15 seconds (plus the trigger's retries).
 */
const WAKE_WINDOW_MS = 120_000;

/** Whether a server that started at `serverStartedAt` was woken by the run recorded at `runCreatedAt`. */
export function wokeBy(runCreatedAt: string, serverStartedAt: string): boolean {
  const gap = Date.parse(runCreatedAt) - Date.parse(serverStartedAt);
  return gap >= 0 && gap <= WAKE_WINDOW_MS;
}
