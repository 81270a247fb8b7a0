import { Logger } from '@aws-lambda-powertools/logger';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { DataApiDatabase } from '../../runtime/adapters/aws/data-api-database.ts';
import { ENV } from '../../runtime/aws/names.ts';
import { isMigrationsComplete, onMigrationsEvent } from '../../runtime/db/migrations-resource.ts';
import { requireEnv } from '../shared/env.ts';

const logger = new Logger({ serviceName: 'strata-migrate' });
// A short wait for a paused cluster: past it, isComplete says "not yet" and the Provider asks again.
const db = new DataApiDatabase(
  {
    resourceArn: requireEnv(ENV.clusterArn),
    secretArn: requireEnv(ENV.secretArn),
    database: requireEnv(ENV.databaseName),
  },
  undefined,
  20_000,
);

/** Custom::StrataMigrations on the Provider framework: onEvent names the resource, isComplete applies. */
export const onEvent = async (event: CloudFormationCustomResourceEvent) => {
  logger.info('migrations requested', { requestType: event.RequestType });
  return onMigrationsEvent(event);
};

export const isComplete = async (event: CloudFormationCustomResourceEvent) => {
  try {
    const outcome = await isMigrationsComplete(event, db);
    logger.info(outcome.IsComplete ? 'migrations applied' : 'the database is resuming; asked again later', {
      ...outcome,
    });
    return outcome;
  } catch (e) {
    logger.error('migrations failed', e as Error);
    throw e;
  }
};
