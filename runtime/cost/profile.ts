import { z } from 'zod';
import type { TaskSize } from '../ports/job-queue.ts';
import type { DatabaseCapacity, TaskSizeSpec } from './ledger.ts';

/** A child environment's task sizes when its config names none; locally, the sizes a run is priced at. */
export const DEFAULT_TASK_SIZES: Readonly<Record<TaskSize, TaskSizeSpec>> = {
  small: { cpu: 512, memoryMiB: 1024 },
  medium: { cpu: 1024, memoryMiB: 4096, ephemeralStorageGiB: 50 },
  large: { cpu: 4096, memoryMiB: 16_384, ephemeralStorageGiB: 100 },
};

export const DEFAULT_DATABASE_CAPACITY: DatabaseCapacity = { minAcu: 0, maxAcu: 4, autoPauseSeconds: 300 };

/** What the platform a run works on knows about how it is paid for. */
export interface CostProfile {
  readonly where: 'aws' | 'local';
  /** The size the run's task has (on AWS its task definition's; locally the default of the job's class). */
  taskSize(size: TaskSize): TaskSizeSpec;
  readonly database: DatabaseCapacity;
  /** When Fargate began billing this task (its image pull), if the task can tell. */
  billedFrom?(): Promise<string | undefined>;
}

export const localCostProfile = (): CostProfile => ({
  where: 'local',
  taskSize: (size) => DEFAULT_TASK_SIZES[size],
  database: DEFAULT_DATABASE_CAPACITY,
});

/** The task definition's own size, in its environment (set by the CDK TaskRunner). */
export const TaskSizeEnv = z.object({
  size: z.enum(['small', 'medium', 'large']),
  cpu: z.number().int().positive(),
  memoryMiB: z.number().int().positive(),
  ephemeralStorageGiB: z.number().int().positive().optional(),
});
export type TaskSizeEnv = z.infer<typeof TaskSizeEnv>;

export const DatabaseCapacityEnv = z.object({
  minAcu: z.number().nonnegative(),
  maxAcu: z.number().positive(),
  autoPauseSeconds: z.number().int().positive(),
});

/**
 * On Fargate: the task's size from its task definition, the cluster's capacity settings, and the image pull
 * time from the task metadata endpoint (ECS_CONTAINER_METADATA_URI_V4), which Fargate bills from.
 */
export function awsCostProfile(
  task: TaskSizeEnv,
  database: DatabaseCapacity,
  metadataUri: string | undefined,
  get: typeof fetch = fetch,
): CostProfile {
  return {
    where: 'aws',
    taskSize: () => task,
    database,
    async billedFrom() {
      if (!metadataUri) return undefined;
      try {
        const res = await get(`${metadataUri}/task`, { signal: AbortSignal.timeout(2000) });
        if (!res.ok) return undefined;
        const meta = (await res.json()) as { PullStartedAt?: string };
        return meta.PullStartedAt;
      } catch {
        return undefined;
      }
    },
  };
}
