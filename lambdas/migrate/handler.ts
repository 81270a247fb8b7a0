import { Logger } from '@aws-lambda-powertools/logger';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { DataApiDatabase } from '../../runtime/adapters/aws/data-api-database.ts';
import { respond } from '../../runtime/aws/cfn-response.ts';
import { ENV } from '../../runtime/aws/names.ts';
import { migrate, migrationsFrom } from '../../runtime/db/migrate.ts';
import { requireEnv } from '../shared/env.ts';

const logger = new Logger({ serviceName: 'strata-migrate' });
const db = new DataApiDatabase({
  resourceArn: requireEnv(ENV.clusterArn),
  secretArn: requireEnv(ENV.secretArn),
  database: requireEnv(ENV.databaseName),
});

/** Custom::StrataMigrations: applies new migrations on Create and Update; Delete leaves the data alone. */
export const handler = async (event: CloudFormationCustomResourceEvent): Promise<void> => {
  const physicalId = 'strata-migrations';
  try {
    if (event.RequestType === 'Delete') return await respond(event, { ok: true }, physicalId);
    const files = (event.ResourceProperties.migrations ?? []) as { name: string; sql: string }[];
    const applied = await migrate(db, migrationsFrom(files));
    logger.info('migrations applied', { applied });
    await respond(event, { ok: true, data: { applied: applied.join(',') } }, physicalId);
  } catch (e) {
    logger.error('migrations failed', e as Error);
    await respond(event, { ok: false, reason: (e as Error).message }, physicalId);
  }
};
