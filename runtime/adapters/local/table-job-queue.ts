import type { Database, Queryable } from '../../ports/database.ts';
import { JobMessage, type JobQueue, type ReceivedJob } from '../../ports/job-queue.ts';

/** A job the queue gave up on: unreadable, or received too many times without being done. */
export interface DeadLetter {
  readonly runId: string;
  readonly reason: string;
}

export interface TableJobQueueOptions {
  /** Receives after which a job is dead-lettered, as SQS's maxReceiveCount. @default 10 */
  readonly maxReceives?: number;
  /** Told of each job dead-lettered, so its run can be failed with the reason. */
  readonly onDeadLetter?: (dead: DeadLetter) => Promise<void>;
}

/**
 * The job queue as a table. Receiving hides a job for a visibility timeout instead of deleting it, so a
 * worker that dies leaves its job to come back, as SQS does; SKIP LOCKED lets many workers take in parallel.
 * A job that cannot be read, or that keeps coming back, is dead-lettered (kept with its reason, never
 * received again) instead of stopping every worker that takes it.
 */
export class TableJobQueue implements JobQueue {
  constructor(
    private readonly db: Database,
    private readonly options: TableJobQueueOptions = {},
  ) {}

  async send(job: JobMessage, options: { delaySeconds?: number } = {}): Promise<void> {
    await this.db.query(
      'INSERT INTO strata.jobs (run_id, body, visible_at) VALUES ($1, $2, now() + make_interval(secs => $3))',
      [job.runId, JSON.stringify(job), Math.min(900, options.delaySeconds ?? 0)],
    );
  }

  async receive(max: number, visibilitySeconds: number): Promise<ReceivedJob[]> {
    const rows = await this.db.query<{
      id: string | number;
      run_id: string;
      body: unknown;
      receives: number;
    }>(
      `UPDATE strata.jobs j SET visible_at = now() + make_interval(secs => $2), receives = j.receives + 1
       FROM (SELECT id FROM strata.jobs WHERE visible_at <= now() AND dead_at IS NULL
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) next
       WHERE j.id = next.id
       RETURNING j.id, j.run_id, j.body, j.receives`,
      [max, visibilitySeconds],
    );
    const out: ReceivedJob[] = [];
    for (const r of rows.sort((a, b) => Number(a.id) - Number(b.id))) {
      const body = typeof r.body === 'string' ? safeJson(r.body) : r.body;
      const parsed = JobMessage.safeParse(body);
      const receives = Number(r.receives);
      const reason = !parsed.success
        ? `the job cannot be read: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`
        : receives > (this.options.maxReceives ?? 10)
          ? `the job was received ${receives - 1} times without being done`
          : undefined;
      if (reason) await this.deadLetter(String(r.id), r.run_id, reason);
      else if (parsed.success) out.push({ job: parsed.data, receipt: String(r.id), receives });
    }
    return out;
  }

  private async deadLetter(receipt: string, runId: string, reason: string): Promise<void> {
    await this.db.query('UPDATE strata.jobs SET dead_at = now(), dead_reason = $2 WHERE id = $1', [
      Number(receipt),
      reason,
    ]);
    await this.options.onDeadLetter?.({ runId, reason });
  }

  async delete(receipt: string): Promise<void> {
    await this.db.query('DELETE FROM strata.jobs WHERE id = $1', [Number(receipt)]);
  }

  async extend(receipt: string, visibilitySeconds: number): Promise<void> {
    await this.db.query(
      'UPDATE strata.jobs SET visible_at = now() + make_interval(secs => $2) WHERE id = $1 AND dead_at IS NULL',
      [Number(receipt), visibilitySeconds],
    );
  }

  async depth(): Promise<number> {
    const [row] = await this.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM strata.jobs WHERE dead_at IS NULL',
    );
    return Number(row?.n ?? 0);
  }
}

/**
 * Jobs a worker has received and still hides (not dead-lettered), with their runs: a worker that died holding
 * one would leave it hidden for its whole visibility. `strata serve` looks at them when it starts.
 */
export async function takenJobs(db: Queryable): Promise<{ id: string; runId: string }[]> {
  const rows = await db.query<{ id: string | number; run_id: string }>(
    'SELECT id, run_id FROM strata.jobs WHERE receives > 0 AND dead_at IS NULL AND visible_at > now() ORDER BY id',
  );
  return rows.map((r) => ({ id: String(r.id), runId: r.run_id }));
}

/** Makes these jobs visible at once, those still hidden and not dead-lettered. */
export async function showJobs(db: Queryable, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    'UPDATE strata.jobs SET visible_at = now() WHERE id = ANY($1::bigint[]) AND dead_at IS NULL AND visible_at > now()',
    [ids.map(Number)],
  );
}

/** Makes a run's jobs (not dead-lettered) visible at once; returns how many it has. */
export async function showJobsOfRun(db: Queryable, runId: string): Promise<number> {
  const rows = await db.query<{ id: string }>(
    'UPDATE strata.jobs SET visible_at = now() WHERE run_id = $1 AND dead_at IS NULL RETURNING id',
    [runId],
  );
  return rows.length;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
