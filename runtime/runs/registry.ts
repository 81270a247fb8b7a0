import type { CostLedger } from '../cost/ledger.ts';
import { NotFoundError } from '../errors.ts';
import type { Queryable } from '../ports/database.ts';
import { newRunId } from '../util/ids.ts';
import type { JobMessage, Run, RunKind, RunStatus, Trigger } from './schema.ts';

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

/** The record of every piece of work; the same table on a laptop and on Aurora. */
export class RunRegistry {
  constructor(private readonly db: Queryable) {}

  async create(kind: RunKind, target: string, trigger: Trigger): Promise<Run> {
    const rows = await this.db.query<RunRow>(
      `INSERT INTO strata.runs (id, kind, target, trigger) VALUES ($1, $2, $3, $4::jsonb) RETURNING ${COLUMNS}`,
      [newRunId(), kind, target, JSON.stringify(trigger)],
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
  ): Promise<{ run: Run; created: boolean }> {
    const rows = await this.db.query<RunRow>(
      `INSERT INTO strata.runs (id, kind, target, trigger, dedupe_key) VALUES ($1, $2, $3, $4::jsonb, $5)
       ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING RETURNING ${COLUMNS}`,
      [newRunId(), kind, target, JSON.stringify(trigger), dedupeKey],
    );
    if (rows[0]) return { run: toRun(rows[0]), created: true };
    const existing = await this.db.query<RunRow>(`SELECT ${COLUMNS} FROM strata.runs WHERE dedupe_key = $1`, [
      dedupeKey,
    ]);
    return { run: toRun(existing[0]!), created: false };
  }

  /**
   * Claims a queued run for one dispatch, so a job delivered twice starts one task. Returns false when the
   * run is not waiting for a task (started, finished, or already claimed).
   */
  async claimForDispatch(id: string, claim: string, job: JobMessage): Promise<boolean> {
    const rows = await this.db.query<{ id: string }>(
      `UPDATE strata.runs SET task = $2, job = $3::jsonb
       WHERE id = $1 AND status IN ('queued', 'interrupted') AND task IS NULL RETURNING id`,
      [id, claim, JSON.stringify(job)],
    );
    return rows.length > 0;
  }

  /** Records the task a claim became, or gives the claim back when the task could not be started. */
  async settleDispatch(id: string, claim: string, task: string | null): Promise<void> {
    await this.db.query('UPDATE strata.runs SET task = $3 WHERE id = $1 AND task = $2', [id, claim, task]);
  }

  /**
   * Marks a queued (or interrupted) run running and counts the attempt. Returns undefined when the run is
   * already running or finished, so a job delivered twice is done once.
   */
  async start(id: string): Promise<Run | undefined> {
    const rows = await this.db.query<RunRow>(
      `UPDATE strata.runs SET status = 'running', attempts = attempts + 1, started_at = now(), heartbeat_at = now(),
         finished_at = NULL, error = NULL
       WHERE id = $1 AND status IN ('queued', 'interrupted') RETURNING ${COLUMNS}`,
      [id],
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
    return this.finish(id, 'succeeded', { result, lineage });
  }

  async fail(
    id: string,
    error: Record<string, unknown>,
    result?: Record<string, unknown>,
    status: 'failed' | 'interrupted' = 'failed',
  ): Promise<Run> {
    return this.finish(id, status, { error, result });
  }

  private async finish(
    id: string,
    status: RunStatus,
    fields: {
      result?: Record<string, unknown>;
      lineage?: Record<string, unknown>;
      error?: Record<string, unknown>;
    },
  ): Promise<Run> {
    const rows = await this.db.query<RunRow>(
      `UPDATE strata.runs SET status = $2, finished_at = now(),
         result = COALESCE($3::jsonb, result), lineage = COALESCE($4::jsonb, lineage), error = $5::jsonb,
         task = CASE WHEN $2 = 'interrupted' THEN NULL ELSE task END
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [
        id,
        status,
        fields.result ? JSON.stringify(fields.result) : null,
        fields.lineage ? JSON.stringify(fields.lineage) : null,
        fields.error ? JSON.stringify(fields.error) : null,
      ],
    );
    if (!rows[0]) throw new NotFoundError(`run ${id} not found`);
    return toRun(rows[0]);
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

  /** The run a task was started for, with the job it was given. */
  async findByTask(task: string): Promise<{ run: Run; job: JobMessage | null } | undefined> {
    const rows = await this.db.query<RunRow & { job: JobMessage | string | null }>(
      `SELECT ${COLUMNS}, job FROM strata.runs WHERE task = $1`,
      [task],
    );
    return rows[0] ? { run: toRun(rows[0]), job: json(rows[0].job) } : undefined;
  }

  async get(id: string): Promise<Run> {
    const rows = await this.db.query<RunRow>(`SELECT ${COLUMNS} FROM strata.runs WHERE id = $1`, [id]);
    if (!rows[0]) throw new NotFoundError(`run ${id} not found`);
    return toRun(rows[0]);
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

  async list(
    filter: { status?: RunStatus; target?: string; kind?: RunKind; limit?: number } = {},
  ): Promise<Run[]> {
    const rows = await this.db.query<RunRow>(
      `SELECT ${COLUMNS} FROM strata.runs
       WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR target = $2) AND ($3::text IS NULL OR kind = $3)
       ORDER BY created_at DESC, id DESC LIMIT $4`,
      [filter.status ?? null, filter.target ?? null, filter.kind ?? null, filter.limit ?? 50],
    );
    return rows.map(toRun);
  }
}
