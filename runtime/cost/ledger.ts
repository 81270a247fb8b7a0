import { z } from 'zod';
import { TaskSize } from '../ports/job-queue.ts';
import { PRICES, type Prices } from './prices.ts';
import { UsageCounts } from './usage.ts';

/** A Fargate task size, as an environment configures it. */
export interface TaskSizeSpec {
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly ephemeralStorageGiB?: number;
}

/** The Aurora capacity settings a run's estimate depends on. */
export interface DatabaseCapacity {
  readonly minAcu: number;
  readonly maxAcu: number;
  readonly autoPauseSeconds: number;
}

/** When the cluster is awake with nothing to do before it pauses, it sits at its lowest capacity. */
export const LOWEST_AWAKE_ACU = 0.5;
/**
 * Statements the platform's Lambdas make through the Data API for each attempt of a run on AWS: the
 * trigger records it (or the reconciler marks it for a retry), the dispatcher claims it and settles the claim.
 */
export const DATA_API_CALLS_PER_ATTEMPT = 3;

export const CostLedger = z.object({
  prices: z.object({ date: z.string(), region: z.string() }),
  /** `local`: the run ran on this machine; the figures are what it would cost as a Fargate task on AWS. */
  where: z.enum(['aws', 'local']),
  task: z.object({
    size: TaskSize,
    cpu: z.number(),
    memoryMiB: z.number(),
    ephemeralStorageGiB: z.number(),
    architecture: z.literal('arm64'),
    /** From the run's recorded start to its recorded end. */
    seconds: z.number(),
    /** What Fargate bills: from the image pull (when known) to the run's end, at least a minute. */
    billedSeconds: z.number(),
    vcpuSeconds: z.number(),
    gbSeconds: z.number(),
    basis: z.string(),
  }),
  aurora: z.object({ acuSeconds: z.number(), wokeCluster: z.boolean(), basis: z.string() }),
  s3: UsageCounts.shape.s3,
  dataApi: z.object({ calls: z.number().int(), basis: z.string() }),
  usd: z.object({
    fargate: z.number(),
    aurora: z.number(),
    s3: z.number(),
    dataApi: z.number(),
    total: z.number(),
  }),
  /** What the bytes this run wrote add to the monthly S3 bill, for as long as they are kept. */
  s3StorageUsdPerMonth: z.number(),
});
export type CostLedger = z.infer<typeof CostLedger>;

export interface LedgerInput {
  readonly where: 'aws' | 'local';
  /** The run's recorded times (ISO). */
  readonly startedAt: string;
  readonly finishedAt: string;
  /** When Fargate began billing the task (its image pull), when the task could tell. */
  readonly billedFrom?: string;
  readonly size: TaskSize;
  readonly spec: TaskSizeSpec;
  readonly database: DatabaseCapacity;
  readonly wokeCluster: boolean;
  readonly attempts: number;
  readonly usage: UsageCounts;
}

/** Dollars, kept to a millionth of a cent so sums stay honest. */
const usd = (n: number) => Math.round(n * 1e8) / 1e8;

/** The task's share: what Fargate bills for the run's length at the task's size. */
function fargateUse(input: LedgerInput, prices: Prices) {
  const started = Date.parse(input.startedAt);
  const finished = Date.parse(input.finishedAt);
  if (!Number.isFinite(started) || !Number.isFinite(finished) || finished < started)
    throw new Error(`a run's cost needs its start and end, got ${input.startedAt} → ${input.finishedAt}`);
  const seconds = (finished - started) / 1000;
  const billedFrom = input.billedFrom ? Date.parse(input.billedFrom) : Number.NaN;
  const pulled = Number.isFinite(billedFrom) && billedFrom <= started;
  const billedSeconds = Math.max(
    prices.fargateMinimumSeconds,
    pulled ? (finished - billedFrom) / 1000 : seconds,
  );
  const ephemeral = input.spec.ephemeralStorageGiB ?? 20;
  const vcpuSeconds = (input.spec.cpu / 1024) * billedSeconds;
  const gbSeconds = (input.spec.memoryMiB / 1024) * billedSeconds;
  const usd =
    (vcpuSeconds * prices.fargateArmVcpuHour +
      gbSeconds * prices.fargateArmGbHour +
      Math.max(0, ephemeral - 20) * billedSeconds * prices.fargateEphemeralGbHour) /
    3600;
  const basis =
    input.where === 'local'
      ? `ran on this machine; priced as a ${input.size} Fargate task (ARM64) of the run's length`
      : pulled
        ? 'Fargate (ARM64), from the image pull to the end of the run, at least a minute'
        : 'Fargate (ARM64), from the start of the run to its end, at least a minute (the image pull time was not known)';
  const task: CostLedger['task'] = {
    size: input.size,
    cpu: input.spec.cpu,
    memoryMiB: input.spec.memoryMiB,
    ephemeralStorageGiB: ephemeral,
    architecture: 'arm64',
    seconds,
    billedSeconds,
    vcpuSeconds,
    gbSeconds,
    basis,
  };
  return { task, usd };
}

/** The database's share, estimated: the run at the cluster's maximum, and the wake-up it caused. */
function auroraUse(input: LedgerInput, seconds: number, prices: Prices) {
  const db = input.database;
  const paused = db.minAcu === 0;
  const wokeCluster = paused && input.wokeCluster;
  // The run is the cluster's load while it lasts: at most its maximum capacity (above the minimum it is
  // paid for anyway). A run that woke a paused cluster also keeps it awake, at its lowest, until it pauses.
  const acuSeconds =
    seconds * (db.maxAcu - db.minAcu) + (wokeCluster ? db.autoPauseSeconds * LOWEST_AWAKE_ACU : 0);
  const aurora: CostLedger['aurora'] = {
    acuSeconds,
    wokeCluster,
    basis: paused
      ? `at most: the run at the cluster's maximum (${db.maxAcu} ACU) for its length${wokeCluster ? `, and ${db.autoPauseSeconds} s at ${LOWEST_AWAKE_ACU} ACU before the cluster it woke pauses again` : ''}`
      : `at most: the run at the cluster's maximum above its minimum (${db.maxAcu} - ${db.minAcu} ACU, the minimum is paid for anyway) for its length`,
  };
  return { aurora, usd: (acuSeconds * prices.auroraAcuHour) / 3600 };
}

/**
 * What a run used and what that cost at `prices`, from its recorded times and its size class. Fargate and
 * S3 are counted; Aurora is estimated (CloudWatch, not the run, knows the real capacity), as `basis` says.
 */
export function costLedger(input: LedgerInput, prices: Prices = PRICES): CostLedger {
  const fargate = fargateUse(input, prices);
  const aurora = auroraUse(input, fargate.task.seconds, prices);
  const s3 = input.usage.s3;
  const s3Usd =
    ((s3.putRequests + s3.listRequests) * prices.s3PutPer1000 +
      (s3.getRequests + s3.headRequests) * prices.s3GetPer1000) /
    1000;
  const dataApiCalls =
    input.usage.dataApiCalls +
    (input.where === 'aws' ? DATA_API_CALLS_PER_ATTEMPT * Math.max(1, input.attempts) : 0);
  const dataApi = (dataApiCalls * prices.dataApiPerMillion) / 1e6;
  return {
    prices: { date: prices.date, region: prices.region },
    where: input.where,
    task: fargate.task,
    aurora: aurora.aurora,
    s3: { ...s3 },
    dataApi: {
      calls: dataApiCalls,
      basis:
        input.where === 'aws'
          ? `the statements the triggers, dispatcher and reconciler make for a run (${DATA_API_CALLS_PER_ATTEMPT} an attempt), and any the run made`
          : 'none: on this machine the database is reached directly',
    },
    usd: {
      fargate: usd(fargate.usd),
      aurora: usd(aurora.usd),
      s3: usd(s3Usd),
      dataApi: usd(dataApi),
      total: usd(fargate.usd + aurora.usd + s3Usd + dataApi),
    },
    s3StorageUsdPerMonth: usd((s3.bytesWritten / 1024 ** 3) * prices.s3StorageGbMonth),
  };
}
