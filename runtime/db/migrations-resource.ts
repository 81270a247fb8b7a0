import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { type MigrationTarget, migrate, migrationsFrom } from './migrate.ts';

/** One physical resource for the platform's migrations, whatever they hold: an update never replaces it. */
export const MIGRATIONS_PHYSICAL_ID = 'strata-migrations';

/** The properties of `Custom::StrataMigrations`: every migration file, and their hash (so any change is an Update). */
interface MigrationsProperties {
  readonly hash?: string;
  readonly migrations?: readonly { name: string; sql: string }[];
}

function filesOf(event: CloudFormationCustomResourceEvent): { name: string; sql: string }[] {
  const props = event.ResourceProperties as unknown as MigrationsProperties;
  const files = props.migrations;
  if (!Array.isArray(files) || files.some((f) => typeof f?.name !== 'string' || typeof f?.sql !== 'string'))
    throw new Error('Custom::StrataMigrations needs `migrations`: a list of { name, sql }');
  return [...files];
}

/**
 * The Provider's onEvent: checks the request and names the resource; the work is done by `isComplete`, which
 * the Provider calls until it is done or the total timeout passes, so a paused cluster resuming never leaves
 * CloudFormation waiting on a Lambda that timed out.
 */
export function onMigrationsEvent(event: CloudFormationCustomResourceEvent): { PhysicalResourceId: string } {
  if (event.RequestType !== 'Delete') migrationsFrom(filesOf(event));
  return { PhysicalResourceId: MIGRATIONS_PHYSICAL_ID };
}

/** The Data API's answer while a paused Aurora cluster wakes: not a failure, just not yet. */
const isResuming = (e: unknown) => (e as { name?: string })?.name === 'DatabaseResumingException';

/**
 * The Provider's isComplete: applies the migrations not applied yet (each once, in its own transaction).
 * Returns IsComplete false while the cluster resumes, so the Provider asks again; any other error is thrown,
 * and the Provider reports it to CloudFormation as FAILED with its message. Delete leaves the data alone.
 */
export async function isMigrationsComplete(
  event: CloudFormationCustomResourceEvent,
  db: MigrationTarget,
): Promise<{ IsComplete: boolean; Data?: { applied: string } }> {
  if (event.RequestType === 'Delete') return { IsComplete: true };
  try {
    const applied = await migrate(db, migrationsFrom(filesOf(event)));
    return { IsComplete: true, Data: { applied: applied.join(',') } };
  } catch (e) {
    if (isResuming(e)) return { IsComplete: false };
    throw e;
  }
}
