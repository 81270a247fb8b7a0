import { StrataError } from '../errors.ts';

/**
 * The database could not be reached (restarted, failed over, resuming from 0 ACU, throttled): nothing was
 * wrong with the work, so its run is interrupted and retried once the database answers, never failed.
 */
export class DatabaseUnavailableError extends StrataError {
  readonly code = 'DATABASE_UNAVAILABLE';
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'DatabaseUnavailableError';
  }
}

/**
 * A write was sent and no answer came back in time (the invocation's budget cut the call short): it may
 * have committed or not. Not "the database is away": a blind retry of a write that is not idempotent by a
 * key could record it twice. An event source that redelivers to a write guarded by a key (a dedupe key, a
 * claim) may retry; anything else must look before it writes again.
 */
export class DatabaseOutcomeUnknownError extends StrataError {
  readonly code = 'DATABASE_OUTCOME_UNKNOWN';
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'DatabaseOutcomeUnknownError';
  }
}

/** SQLSTATE classes and codes that mean "the connection or the server", not "the statement". */
const TRANSIENT_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** What the RDS Data API says while Aurora resumes, fails over or sheds load. */
const TRANSIENT_AWS_NAMES = new Set([
  'DatabaseResumingException',
  'DatabaseUnavailableException',
  'ServiceUnavailableError',
  'ThrottlingException',
  'TooManyRequestsException',
]);
const TRANSIENT_MESSAGES =
  /Connection terminated|connection error and is not queryable|terminating connection|the database system is (starting up|shutting down|in recovery mode)|Client was closed|timeout exceeded when trying to connect/i;

/** Whether an error (or one it wraps) means the database is away for now. */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 4) return false;
  if (error instanceof DatabaseUnavailableError) return true;
  // Whatever it wraps, a write that may have happened is never "nothing happened, retry".
  if (error instanceof DatabaseOutcomeUnknownError) return false;
  const e = error as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (code.startsWith('08') || TRANSIENT_STATES.has(code) || TRANSIENT_NODE_CODES.has(code)) return true;
  if (typeof e.name === 'string' && TRANSIENT_AWS_NAMES.has(e.name)) return true;
  if (typeof e.message === 'string' && TRANSIENT_MESSAGES.test(e.message)) return true;
  return isDatabaseUnavailable(e.cause, depth + 1);
}
