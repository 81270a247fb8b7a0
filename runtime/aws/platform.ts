import { existsSync, readFileSync } from 'node:fs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { EventBridgeFederation } from '../adapters/aws/eventbridge-federation.ts';
import { S3ObjectStore } from '../adapters/aws/s3-object-store.ts';
import { SqsJobQueue } from '../adapters/aws/sqs-job-queue.ts';
import { PgDatabase } from '../adapters/postgres/pg-database.ts';
import { awsCostProfile, DatabaseCapacityEnv, TaskSizeEnv } from '../cost/profile.ts';
import { migrate } from '../db/migrate.ts';
import type { Platform } from '../platform/platform.ts';
import type { JobQueue } from '../ports/job-queue.ts';
import { RunRegistry, type RunRegistryOptions } from '../runs/registry.ts';
import { ENV } from './names.ts';
import { awsNotifications } from './notifications.ts';

/** Amazon's RDS certificate bundle, put in the task image by tasks/Dockerfile. */
export const RDS_CA_BUNDLE = '/etc/ssl/certs/rds-global-bundle.pem';
/**
 * Another CA bundle for the database's certificate, in place of RDS's: the rehearsal (test/rehearsal) runs
 * the task entry point against a PostgreSQL behind a loopback certificate of its own. Unset on AWS.
 */
export const DB_CA_BUNDLE_ENV = 'STRATA_DB_CA_BUNDLE';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

/** A task sends no jobs; the reconciler and the triggers do. */
const noQueue: JobQueue = {
  send: async () => {
    throw new Error('a task does not send jobs');
  },
  receive: async () => [],
  delete: async () => {},
  extend: async () => {},
  depth: async () => 0,
};

/** The child's link to its core, when its stack configured one. */
function awsFederation(): EventBridgeFederation | undefined {
  const keySecretArn = process.env[ENV.federationKeySecretArn];
  if (!keySecretArn) return undefined;
  return new EventBridgeFederation({
    child: env(ENV.childName),
    keySecretArn,
    eventBus: env(ENV.federationBus),
  });
}

/**
 * The platform a Fargate task works on: the buckets on S3, Aurora through `pg` over verified TLS with the
 * RDS-managed secret (COPY streams need a real connection; the Data API has none).
 */
export async function openAwsPlatform(
  secrets = new SecretsManagerClient({}),
  options: RunRegistryOptions = {},
): Promise<Platform> {
  // Read before connecting, so a task missing its environment fails at once.
  const cost = awsCostProfile(
    TaskSizeEnv.parse(JSON.parse(env(ENV.taskSize))),
    DatabaseCapacityEnv.parse(JSON.parse(env(ENV.databaseCapacity))),
    process.env.ECS_CONTAINER_METADATA_URI_V4,
  );
  const federation = awsFederation();
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: env(ENV.secretArn) }));
  const secret = JSON.parse(out.SecretString ?? '{}') as { username?: string; password?: string };
  const [host, port] = env(ENV.databaseHost).split(':');
  const url = new URL(`postgres://${host}:${port ?? '5432'}/${env(ENV.databaseName)}`);
  url.username = encodeURIComponent(secret.username ?? '');
  url.password = encodeURIComponent(secret.password ?? '');
  const caBundle = process.env[DB_CA_BUNDLE_ENV] || RDS_CA_BUNDLE;
  if (!existsSync(caBundle))
    throw new Error(`${caBundle} is missing: the task image must carry the RDS CA bundle`);
  const db = await PgDatabase.open(url.toString(), {
    max: 4,
    ssl: { rejectUnauthorized: true, ca: readFileSync(caBundle, 'utf8') },
  });
  await migrate(db);
  const store = new S3ObjectStore({
    ingress: env(ENV.ingressBucket),
    archive: env(ENV.archiveBucket),
    egress: env(ENV.egressBucket),
  });
  const queueUrl = process.env[ENV.jobsQueueUrl];
  return {
    db,
    store,
    queue: queueUrl ? new SqsJobQueue(queueUrl) : noQueue,
    runs: new RunRegistry(db, options),
    cost,
    federation,
    notifications: awsNotifications(),
    close: () => db.close(),
  };
}
