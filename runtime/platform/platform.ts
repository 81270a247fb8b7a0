import type { CostProfile } from '../cost/profile.ts';
import type { Database } from '../ports/database.ts';
import type { Federation } from '../ports/federation.ts';
import type { JobQueue } from '../ports/job-queue.ts';
import type { NotificationSender } from '../ports/notifications.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { RunRegistry } from '../runs/registry.ts';

/** Everything a job needs, behind its ports. */
export interface Platform {
  readonly db: Database;
  readonly store: ObjectStore;
  readonly queue: JobQueue;
  readonly runs: RunRegistry;
  /** How runs here are paid for, for their cost ledgers. @default priced as on AWS, at the default sizes */
  readonly cost?: CostProfile;
  /** The core this child reports each publish to, if it has one. */
  readonly federation?: Federation;
  /**
   * How publish notifications leave: EventBridge on AWS. @default the database's outbox, which
   * `strata serve` delivers
   */
  readonly notifications?: NotificationSender;
  close(): Promise<void>;
}
