import type { Database } from '../../ports/database.ts';
import type { JobQueue, ReceivedJob } from '../../ports/job-queue.ts';
import { JobMessage } from '../../runs/schema.ts';

/**
 * The job queue as a table. Receiving hides a job for a visibility timeout instead of deleting it, so a
 * worker that dies leaves its job to come back, as SQS does; SKIP LOCKED lets many workers take in parallel.
 */
export class TableJobQueue implements JobQueue {
  constructor(private readonly db: Database) {}

  async send(job: JobMessage, options: { delaySeconds?: number } = {}): Promise<void> {
    await this.db.query(
      'INSERT INTO strata.jobs (run_id, body, visible_at) VALUES ($1, $2, now() + make_interval(secs => $3))',
      [job.runId, JSON.stringify(job), Math.min(900, options.delaySeconds ?? 0)],
    );
  }

  async receive(max: number, visibilitySeconds: number): Promise<ReceivedJob[]> {
    const rows = await this.db.query<{ id: string | number; body: unknown; receives: number }>(
      `UPDATE strata.jobs j SET visible_at = now() + make_interval(secs => $2), receives = j.receives + 1
       FROM (SELECT id FROM strata.jobs WHERE visible_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) next
       WHERE j.id = next.id
       RETURNING j.id, j.body, j.receives`,
      [max, visibilitySeconds],
    );
    return rows
      .sort((a, b) => Number(a.id) - Number(b.id))
      .map((r) => ({ job: JobMessage.parse(r.body), receipt: String(r.id), receives: r.receives }));
  }

  async delete(receipt: string): Promise<void> {
    await this.db.query('DELETE FROM strata.jobs WHERE id = $1', [Number(receipt)]);
  }
}
