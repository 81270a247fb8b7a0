import type { CostLedger } from '../cost/ledger.ts';
import type { RunCost } from '../cost/summary.ts';
import { NotFoundError } from '../errors.ts';
import type { Queryable } from '../ports/database.ts';
import type { JobMessage, NewJob } from '../ports/job-queue.ts';
import { newRunId } from '../util/ids.ts';
import type { Run, RunAttempt, RunKind, RunStatus, Trigger } from './schema.ts';

/** The advisory lock dispatchers take to check the concurrency cap and claim as one step (any fixed number). */
const DISPATCH_LOCK = 0x5354_5241;

interface RunRow {
  id: string;
  kind: RunKind;
  target: string;
  trigger: Trigger;
  status: RunStatus;
  attempts: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: Record<string, unknown> | null;
  lineage: Record<string, unknown> | null;
  result: Record<string, unknown> | null;
  catalog_sha256: string | null;
  cost: CostLedger | null;
}

/** A dispatcher's claim older than the seconds in parameter `stale`: its dispatcher died, and it is taken over. */
const staleClaim = (stale: string) =>
  `(task LIKE 'claim:%' AND claimed_at < now() - make_interval(secs => ${stale}::int))`;

/**
 * A run waiting for a task: queued or interrupted, with no task, or with a claim older than the seconds in
 * parameter `stale` (its dispatcher died before it recorded the task it started, if any).
 */
const waitingForTask = (stale: string) => `status IN ('queued', 'interrupted')
  AND (task IS NULL OR ${staleClaim(stale)})`;

// Times come back as ISO text on both engines, whatever their type parsers do.
const COLUMNS = `id, kind, target, trigger, status, attempts,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
  to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS started_at,
  to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS finished_at,
  error, lineage, result, catalog_sha256, cost`;

/** The Data API returns jsonb as JSON text; drivers return it parsed. */
function json<T>(v: T | string | null): T | null {
  return typeof v === 'string' ? (JSON.parse(v) as T) : v;
}

function toRun(r: RunRow): Run {
  return {
    id: r.id,
    kind: r.kind,
    target: r.target,
    trigger: json(r.trigger)!,
    status: r.status,
    attempts: Number(r.attempts),
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: json(r.error),
    lineage: json(r.lineage),
    result: json(r.result),
    catalogSha256: r.catalog_sha256 ?? null,
    cost: json(r.cost),
  };
}

export interface RunRegistryOptions {
  /**
   * Told of every run that reaches succeeded, failed or interrupted, wherever that happens (a task, a
   * Lambda, `strata serve`): where metrics are emitted. It must not throw.
   */
  readonly onFinish?: (run: Run) => void;
}

/**
 * The record of every piece of work; the same table on a laptop and on Aurora. A run's life (recorded,
 * started, finished, sent again) is told here; what dispatchers claim on it is `claims`, and what triggers ask
 * before they record one is `lookups`.
 */
export class RunRegistry {
  /** Claims a dispatcher takes on runs waiting for a task, and the tasks recorded on them. */
  readonly claims: DispatchClaims;
  /** What triggers ask before they record a run: has this event, or this body, been seen lately. */
  readonly lookups: TriggerLookups;

  constructor(
    private readonly db: Queryable,
    private readonly options: RunRegistryOptions = {},
  ) {
    this.claims = new DispatchClaims(db);
    this.lookups = new TriggerLookups(db);
  }

  /**
   * Records a queued run. With its job (all but the run id), the job is kept with the run, so the run can
   * be retried or redriven later without the message that asked for it.
   */
  async create(kind: RunKind, target: string, trigger: Trigger, job?: NewJob): Promise<Run> {
    const id = newRunId();
    const rows = await this.db.query<RunRow>(
      `INSERT INTO strata.runs (id, kind, target, trigger, job) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb) RETURNING ${COLUMNS}`,
      [id, kind, target, JSON.stringify(trigger), job ? JSON.stringify({ ...job, runId: id }) : null],
    );
    return toRun(rows[0]!);
  }

  /**
   * Records a run once per `dedupeKey` (an S3 object version, a webhook delivery): a duplicate event finds
   * the run the first one made. Returns it, and whether it was made now.
   */
  async createOnce(
    kind: RunKind,
    target: string,
    trigger: Trigger,
    dedupeKey: string,
    job?: NewJob,
  ): Promise<{ run: Run; created: boolean }> {
    const id = newRunId();
    const rows = await this.db.query<RunRow>(
      `INSERT INTO strata.runs (id, kind, target, trigger, dedupe_key, job) VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb)
       ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING RETURNING ${COLUMNS}`,
      [
        id,
        kind,
        target,
        JSON.stringify(trigger),
        dedupeKey,
        job ? JSON.stringify({ ...job, runId: id }) : null,
      ],
    );
    if (rows[0]) return { run: toRun(rows[0]), created: true };
    const existing = await this.db.query<RunRow>(`SELECT ${COLUMNS} FROM strata.runs WHERE dedupe_key = $1`, [
      dedupeKey,
    ]);
    return { run: toRun(existing[0]!), created: false };
  }

  /**
   * Marks a queued (or interrupted) run running, counts the attempt and opens its record. Returns undefined
   * when the run is already running or finished, so a job delivered twice is done once. `worker` names who
   * runs it (a `strata serve` worker, an ECS task).
   */
  async start(id: string, worker?: string): Promise<Run | undefined> {
    const rows = await this.db.query<RunRow>(
      `WITH r AS (
         UPDATE strata.runs SET status = 'running', attempts = attempts + 1, started_at = now(), heartbeat_at = now(),
           finished_at = NULL, error = NULL
         WHERE id = $1 AND status IN ('queued', 'interrupted') RETURNING *
       ), a AS (
         INSERT INTO strata.run_attempts (run_id, attempt, started_at, worker)
         SELECT r.id, COALESCE((SELECT max(attempt) FROM strata.run_attempts WHERE run_id = r.id), 0) + 1, now(), $2
         FROM r
       )
       SELECT ${COLUMNS} FROM r`,
      [id, worker ?? null],
    );
    return rows[0] ? toRun(rows[0]) : undefined;
  }

  async heartbeat(id: string): Promise<void> {
    await this.db.query(`UPDATE strata.runs SET heartbeat_at = now() WHERE id = $1 AND status = 'running'`, [
      id,
    ]);
  }

  async setLineage(id: string, lineage: Record<string, unknown>): Promise<void> {
    await this.db.query('UPDATE strata.runs SET lineage = $2::jsonb WHERE id = $1', [
      id,
      JSON.stringify(lineage),
    ]);
  }

  /** The catalog (its content hash) the run works with, recorded when it starts. */
  async setCatalog(id: string, sha256: string): Promise<void> {
    await this.db.query('UPDATE strata.runs SET catalog_sha256 = $2 WHERE id = $1', [id, sha256]);
  }

  /** What the run used and what that cost, recorded once it has finished. */
  async setCost(id: string, cost: CostLedger): Promise<Run> {
    const rows = await this.db.query<RunRow>(
      `UPDATE strata.runs SET cost = $2::jsonb WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, JSON.stringify(cost)],
    );
    if (!rows[0]) throw new NotFoundError(`run ${id} not found`);
    return toRun(rows[0]);
  }

  async succeed(
    id: string,
    result: Record<string, unknown>,
    lineage?: Record<string, unknown>,
  ): Promise<Run> {
    return (await this.finish(id, 'succeeded', { result, lineage })) ?? this.get(id);
  }

  async fail(
    id: string,
    error: Record<string, unknown>,
    result?: Record<string, unknown>,
    status: 'failed' | 'interrupted' = 'failed',
  ): Promise<Run> {
    return (await this.finish(id, status, { error, result })) ?? this.get(id);
  }

  /**
   * A running run whose worker stopped before it finished (killed, the database gone): it is marked
   * interrupted with the cause, to be retried, or failed with the cause once it has had `maxAttempts`.
   * With `staleSeconds`, only if its heartbeat is older than that (another worker may have it). Undefined
   * when the run was not running (or not stale): someone else has dealt with it.
   */
  async interrupt(
    id: string,
    error: Record<string, unknown>,
    options: { maxAttempts?: number; staleSeconds?: number } = {},
  ): Promise<Run | undefined> {
    return this.finish(id, 'interrupted', { error }, { running: true, ...options });
  }

  /**
   * Records how a run ended and closes its attempt with the cause (or records one that never started). A
   * run that has already succeeded or failed keeps its status: a late SIGTERM or a second event cannot turn
   * a finished run into something else. The task stays recorded on an interrupted run, so the reconciler
   * still finds it when ECS reports the task stopped. Undefined when no run was changed.
   */
  private async finish(
    id: string,
    status: 'succeeded' | 'failed' | 'interrupted',
    fields: {
      result?: Record<string, unknown>;
      lineage?: Record<string, unknown>;
      error?: Record<string, unknown>;
    },
    guard: { running?: boolean; staleSeconds?: number; maxAttempts?: number } = {},
  ): Promise<Run | undefined> {
    const rows = await this.db.query<RunRow>(
      `WITH r AS (
         UPDATE strata.runs SET finished_at = now(),
           status = CASE WHEN $6::int IS NOT NULL AND attempts >= $6::int THEN 'failed' ELSE $2::text END,
           result = COALESCE($3::jsonb, result), lineage = COALESCE($4::jsonb, lineage),
           error = CASE WHEN $6::int IS NOT NULL AND attempts >= $6::int
             THEN $5::jsonb || jsonb_build_object('message', ($5::jsonb ->> 'message') || '; gave up after ' || attempts || ' attempts')
             ELSE $5::jsonb END
         WHERE id = $1 AND status NOT IN ('succeeded', 'failed')
           AND (NOT $7::boolean OR status = 'running')
           AND ($8::int IS NULL OR heartbeat_at < now() - make_interval(secs => $8::int))
         RETURNING *
       ), closed AS (
         UPDATE strata.run_attempts a SET ended_at = now(), status = r.status, cause = r.error
         FROM r WHERE a.run_id = r.id AND a.ended_at IS NULL RETURNING a.run_id
       ), added AS (
         INSERT INTO strata.run_attempts (run_id, attempt, ended_at, status, cause)
         SELECT r.id, COALESCE((SELECT max(attempt) FROM strata.run_attempts WHERE run_id = r.id), 0) + 1,
           now(), r.status, r.error
         FROM r WHERE NOT EXISTS (SELECT 1 FROM closed)
       )
       SELECT ${COLUMNS} FROM r`,
      [
        id,
        status,
        fields.result ? JSON.stringify(fields.result) : null,
        fields.lineage ? JSON.stringify(fields.lineage) : null,
        fields.error ? JSON.stringify(fields.error) : null,
        guard.maxAttempts ?? null,
        guard.running ?? false,
        guard.staleSeconds ?? null,
      ],
    );
    if (!rows[0]) return undefined;
    const run = toRun(rows[0]);
    this.options.onFinish?.(run);
    return run;
  }

  /**
   * An operator's retry: a failed or interrupted run goes back to queued, its last outcome kept in its
   * attempts, and its job is returned to be sent again. Undefined when the run is not failed or interrupted.
   */
  async requeue(
    id: string,
    by: string,
  ): Promise<{ run: Run; job: JobMessage | null; previous: RunStatus } | undefined> {
    const rows = await this.db.query<RunRow & { job: JobMessage | string | null; previous: RunStatus }>(
      `WITH old AS (SELECT id, status FROM strata.runs WHERE id = $1 AND status IN ('failed', 'interrupted') FOR UPDATE),
       r AS (
         UPDATE strata.runs SET status = 'queued', task = NULL, claimed_at = NULL, finished_at = NULL
         FROM old WHERE strata.runs.id = old.id RETURNING strata.runs.*, old.status AS previous
       ), note AS (
         INSERT INTO strata.run_attempts (run_id, attempt, ended_at, status, cause)
         SELECT r.id, COALESCE((SELECT max(attempt) FROM strata.run_attempts WHERE run_id = r.id), 0) + 1,
           now(), 'redriven', jsonb_build_object('code', 'REDRIVEN', 'message', 'sent again by ' || $2::text)
         FROM r
       )
       SELECT ${COLUMNS}, job, previous FROM r`,
      [id, by],
    );
    const row = rows[0];
    if (!row) return undefined;
    return { run: toRun(row), job: json(row.job), previous: row.previous };
  }

  /** Every attempt of a run, oldest first, with how it ended and why. */
  async attempts(id: string): Promise<RunAttempt[]> {
    const rows = await this.db.query<{
      attempt: number;
      started_at: string | null;
      ended_at: string | null;
      status: RunAttempt['status'];
      cause: Record<string, unknown> | string | null;
      worker: string | null;
    }>(
      `SELECT attempt,
         to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS started_at,
         to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ended_at,
         status, cause, worker
       FROM strata.run_attempts WHERE run_id = $1 ORDER BY attempt`,
      [id],
    );
    return rows.map((r) => ({
      attempt: Number(r.attempt),
      startedAt: r.started_at,
      endedAt: r.ended_at,
      status: r.status,
      cause: json(r.cause),
      worker: r.worker,
    }));
  }

  /** The job a run was given (kept when it was recorded, or when it was dispatched). */
  async jobOf(id: string): Promise<JobMessage | null> {
    const rows = await this.db.query<{ job: JobMessage | string | null }>(
      'SELECT job FROM strata.runs WHERE id = $1',
      [id],
    );
    if (!rows[0]) throw new NotFoundError(`run ${id} not found`);
    return json(rows[0].job);
  }

  /** Runs marked running whose heartbeat is older than `seconds`: their worker hangs or is gone. */
  async staleRunning(seconds: number): Promise<{ run: Run; task: string | null }[]> {
    const rows = await this.db.query<RunRow & { task: string | null }>(
      `SELECT ${COLUMNS}, task FROM strata.runs
       WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1::int) ORDER BY id`,
      [seconds],
    );
    return rows.map((r) => ({ run: toRun(r), task: r.task }));
  }

  async get(id: string): Promise<Run> {
    const rows = await this.db.query<RunRow>(`SELECT ${COLUMNS} FROM strata.runs WHERE id = $1`, [id]);
    if (!rows[0]) throw new NotFoundError(`run ${id} not found`);
    return toRun(rows[0]);
  }

  /**
   * Records again a run that succeeded, as the buckets remember it (a database rebuild): the run that made a
   * published version, with its lineage. Its attempts and cost were the lost database's alone, so the run
   * has no attempt records and no ledger. A run the database knows is left as it is; true when added.
   */
  async restoreSucceeded(run: {
    id: string;
    kind: RunKind;
    target: string;
    trigger: Trigger;
    attempts: number;
    createdAt: string;
    startedAt: string | null;
    finishedAt: string;
    lineage: Record<string, unknown>;
    result: Record<string, unknown>;
    catalogSha256: string | null;
  }): Promise<boolean> {
    const rows = await this.db.query<{ id: string }>(
      `INSERT INTO strata.runs (id, kind, target, trigger, status, attempts, created_at, started_at, finished_at,
         lineage, result, catalog_sha256)
       VALUES ($1, $2, $3, $4::jsonb, 'succeeded', $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [
        run.id,
        run.kind,
        run.target,
        JSON.stringify(run.trigger),
        run.attempts,
        run.createdAt,
        run.startedAt,
        run.finishedAt,
        JSON.stringify(run.lineage),
        JSON.stringify(run.result),
        run.catalogSha256,
      ],
    );
    return rows.length > 0;
  }

  /** How many runs the database holds, and how many of them have not finished (queued, running, interrupted). */
  async counts(): Promise<{ runs: number; unfinished: number }> {
    const [row] = await this.db.query<{ runs: string; unfinished: string }>(
      `SELECT count(*)::text AS runs,
         count(*) FILTER (WHERE status IN ('queued', 'running', 'interrupted'))::text AS unfinished
       FROM strata.runs`,
    );
    return { runs: Number(row?.runs ?? 0), unfinished: Number(row?.unfinished ?? 0) };
  }

  /** The newest run started by an upload of this ingress key (how an upload's receipt is found). */
  async findByUploadKey(key: string): Promise<Run | undefined> {
    const rows = await this.db.query<RunRow>(
      `SELECT ${COLUMNS} FROM strata.runs WHERE kind = 'ingest' AND trigger->'detail'->>'key' = $1
       ORDER BY created_at DESC, id DESC LIMIT 1`,
      [key],
    );
    return rows[0] ? toRun(rows[0]) : undefined;
  }

  /** The newest runs started by uploads whose ingress keys begin so (a partner's uploads to one dataset). */
  async findByUploadPrefix(prefix: string, limit: number): Promise<Run[]> {
    const rows = await this.db.query<RunRow>(
      `SELECT ${COLUMNS} FROM strata.runs WHERE kind = 'ingest' AND starts_with(trigger->'detail'->>'key', $1)
       ORDER BY created_at DESC, id DESC LIMIT $2`,
      [prefix, limit],
    );
    return rows.map(toRun);
  }

  /** These runs, those that exist, in no particular order. */
  async getMany(ids: readonly string[]): Promise<Run[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.query<RunRow>(
      `SELECT ${COLUMNS} FROM strata.runs WHERE id = ANY($1::text[])`,
      [[...ids]],
    );
    return rows.map(toRun);
  }

  /** Of these runs, those that ended (succeeded or failed) more than `seconds` ago. */
  async endedBefore(ids: readonly string[], seconds: number): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.query<{ id: string }>(
      `SELECT id FROM strata.runs WHERE id = ANY($1::text[]) AND status IN ('succeeded', 'failed')
         AND finished_at < now() - make_interval(secs => $2::int)`,
      [[...ids], seconds],
    );
    return rows.map((r) => r.id);
  }

  /** The cost ledger (as stored) of every finished run created since `since`, oldest first. */
  async costsSince(since: Date): Promise<RunCost[]> {
    return this.db.query<RunCost>(
      `SELECT kind, target, cost FROM strata.runs
       WHERE created_at >= $1::timestamptz AND finished_at IS NOT NULL ORDER BY created_at`,
      [since.toISOString()],
    );
  }

  async list(
    filter: { status?: RunStatus; target?: string; kind?: RunKind; limit?: number; since?: Date } = {},
  ): Promise<Run[]> {
    const rows = await this.db.query<RunRow>(
      `SELECT ${COLUMNS} FROM strata.runs
       WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR target = $2) AND ($3::text IS NULL OR kind = $3)
         AND ($5::timestamptz IS NULL OR created_at >= $5::timestamptz)
       ORDER BY created_at DESC, id DESC LIMIT $4`,
      [
        filter.status ?? null,
        filter.target ?? null,
        filter.kind ?? null,
        filter.limit ?? 50,
        filter.since ? filter.since.toISOString() : null,
      ],
    );
    return rows.map(toRun);
  }
}

/**
 * Dispatch claims: a dispatcher claims a waiting run before it starts a task, so a job delivered twice starts
 * one task, and records the task the claim became (or gives the claim back).
 */
export class DispatchClaims {
  constructor(private readonly db: Queryable) {}

  /**
   * Claims a run for dispatch (as `claimForDispatch`) only while fewer than `cap` runs hold a task or a
   * claim, as one step across every dispatcher: the check and the claim run in one transaction under one
   * advisory lock, so two dispatchers at once cannot both see room for one more task and both start one.
   * Each statement in the transaction sees what the dispatcher before it committed. 'capped' when there is
   * no room, 'taken' when the run is not waiting for a task.
   */
  async claimWithinCap(
    id: string,
    claim: string,
    job: JobMessage,
    cap: number,
    staleClaimSeconds = STALE_CLAIM_SECONDS,
  ): Promise<'claimed' | 'capped' | 'taken'> {
    const db = this.db as Queryable & { transaction?: <T>(fn: () => Promise<T>) => Promise<T> };
    if (!db.transaction) throw new Error('claimWithinCap needs a database with transactions');
    return db.transaction(async () => {
      await this.db.query('SELECT pg_advisory_xact_lock($1::bigint)', [DISPATCH_LOCK]);
      // One statement (each is a round trip through the Data API): whether the run still waits for a task,
      // and how many runs hold one; a stale claim holds none. A run a worker has taken, or that has
      // finished, is skipped whether or not there is room.
      const [room] = await this.db.query<{ waiting: boolean; active: number }>(
        `SELECT EXISTS (SELECT 1 FROM strata.runs WHERE id = $1 AND ${waitingForTask('$2')}) AS waiting,
           (SELECT count(*)::int FROM strata.runs
            WHERE task IS NOT NULL AND status IN ('queued', 'interrupted', 'running')
              AND NOT ${staleClaim('$2')}) AS active`,
        [id, staleClaimSeconds],
      );
      if (!room?.waiting) return 'taken';
      if (room.active >= cap) return 'capped';
      return (await this.claimForDispatch(id, claim, job, staleClaimSeconds)) ? 'claimed' : 'taken';
    });
  }

  /**
   * Claims a queued run for one dispatch, so a job delivered twice starts one task. Returns false when the
   * run is not waiting for a task (started, finished, or claimed by a dispatcher that is still at it). A
   * claim older than `staleClaimSeconds` belongs to a dispatcher that died before it recorded its task, and
   * is taken over.
   */
  async claimForDispatch(
    id: string,
    claim: string,
    job: JobMessage,
    staleClaimSeconds = STALE_CLAIM_SECONDS,
  ): Promise<boolean> {
    const rows = await this.db.query<{ id: string }>(
      `UPDATE strata.runs SET task = $2, job = $3::jsonb, claimed_at = now()
       WHERE id = $1 AND ${waitingForTask('$4')} RETURNING id`,
      [id, claim, JSON.stringify(job), staleClaimSeconds],
    );
    return rows.length > 0;
  }

  /** Records the task a claim became, or gives the claim back when the task could not be started. */
  async settleDispatch(id: string, claim: string, task: string | null): Promise<void> {
    await this.db.query('UPDATE strata.runs SET task = $3, claimed_at = NULL WHERE id = $1 AND task = $2', [
      id,
      claim,
      task,
    ]);
  }

  /**
   * Runs a dispatcher claimed more than `seconds` ago and never started a task for: the dispatcher died
   * between the claim and RunTask (or before it recorded the task). Their claims are given back and their
   * jobs returned, to be sent again.
   */
  async releaseStaleClaims(seconds = STALE_CLAIM_SECONDS): Promise<{ run: Run; job: JobMessage | null }[]> {
    const rows = await this.db.query<RunRow & { job: JobMessage | string | null }>(
      `UPDATE strata.runs SET task = NULL, claimed_at = NULL
       WHERE status IN ('queued', 'interrupted') AND ${staleClaim('$1')}
       RETURNING ${COLUMNS}, job`,
      [seconds],
    );
    return rows.map((r) => ({ run: toRun(r), job: json(r.job) }));
  }

  /** Keeps what went wrong with a waiting run's dispatch, for the dead-letter queue to report. */
  async noteDispatchFailure(id: string, error: Record<string, unknown>): Promise<void> {
    await this.db.query(
      `UPDATE strata.runs SET error = $2::jsonb WHERE id = $1 AND status IN ('queued', 'interrupted')`,
      [id, JSON.stringify(error)],
    );
  }

  /**
   * Lets an interrupted run be dispatched again: its task (or claim) is given back. The reconciler calls it
   * before it sends the job again.
   */
  async releaseTask(id: string): Promise<void> {
    await this.db.query(
      `UPDATE strata.runs SET task = NULL, claimed_at = NULL WHERE id = $1 AND status IN ('queued', 'interrupted')`,
      [id],
    );
  }

  /** A run with the task (or claim) recorded on it and its job; undefined when there is no such run. */
  async dispatchOf(
    id: string,
  ): Promise<{ run: Run; task: string | null; job: JobMessage | null } | undefined> {
    const rows = await this.db.query<RunRow & { task: string | null; job: JobMessage | string | null }>(
      `SELECT ${COLUMNS}, task, job FROM strata.runs WHERE id = $1`,
      [id],
    );
    const r = rows[0];
    return r ? { run: toRun(r), task: r.task, job: json(r.job) } : undefined;
  }

  /**
   * Interrupted runs still holding their task `seconds` after they ended: the reconciler never heard that
   * the task stopped (its event was lost), so nothing has sent their job again.
   */
  async staleInterrupted(seconds: number): Promise<{ run: Run; task: string }[]> {
    const rows = await this.db.query<RunRow & { task: string }>(
      `SELECT ${COLUMNS}, task FROM strata.runs
       WHERE status = 'interrupted' AND task IS NOT NULL AND task NOT LIKE 'claim:%'
         AND finished_at < now() - make_interval(secs => $1::int) ORDER BY id`,
      [seconds],
    );
    return rows.map((r) => ({ run: toRun(r), task: r.task }));
  }

  /** The run a task was started for, with the job it was given. */
  async findByTask(task: string): Promise<{ run: Run; job: JobMessage | null } | undefined> {
    const rows = await this.db.query<RunRow & { job: JobMessage | string | null }>(
      `SELECT ${COLUMNS}, job FROM strata.runs WHERE task = $1`,
      [task],
    );
    return rows[0] ? { run: toRun(rows[0]), job: json(rows[0].job) } : undefined;
  }
}

/** What triggers ask of the runs they made before: deduplication and rate limits. */
export class TriggerLookups {
  constructor(private readonly db: Queryable) {}

  /** The run a trigger recorded for this dedupe key, if any. */
  async findByDedupeKey(dedupeKey: string): Promise<Run | undefined> {
    const rows = await this.db.query<RunRow>(`SELECT ${COLUMNS} FROM strata.runs WHERE dedupe_key = $1`, [
      dedupeKey,
    ]);
    return rows[0] ? toRun(rows[0]) : undefined;
  }

  /** How many runs of `target` a trigger of this kind made in the last `seconds`. */
  async countRecent(filter: { target: string; trigger: Trigger['kind']; seconds: number }): Promise<number> {
    const rows = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM strata.runs
       WHERE target = $1 AND trigger->>'kind' = $2 AND created_at > now() - make_interval(secs => $3::int)`,
      [filter.target, filter.trigger, filter.seconds],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** The newest run of `target` made in the last `seconds` by a trigger of this kind with this detail. */
  async findRecent(filter: {
    target: string;
    trigger: Trigger['kind'];
    seconds: number;
    detail: readonly [string, string];
  }): Promise<Run | undefined> {
    const rows = await this.db.query<RunRow>(
      `SELECT ${COLUMNS} FROM strata.runs
       WHERE target = $1 AND trigger->>'kind' = $2 AND created_at > now() - make_interval(secs => $3::int)
         AND trigger->'detail'->>$4::text = $5
       ORDER BY created_at DESC LIMIT 1`,
      [filter.target, filter.trigger, filter.seconds, filter.detail[0], filter.detail[1]],
    );
    return rows[0] ? toRun(rows[0]) : undefined;
  }
}

/** How long a dispatcher may hold a claim before it is taken as dead: well past one dispatcher batch. */
export const STALE_CLAIM_SECONDS = 300;

/**
 * Attempts a run gets before an interruption (a killed worker, a task that died, the database gone) fails
 * it with the cause instead of retrying it: the first and three retries, as the reconciler allows on AWS.
 */
export const MAX_ATTEMPTS = 4;
