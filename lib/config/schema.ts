import { z } from 'zod';
import { DEFAULT_DATABASE_CAPACITY, DEFAULT_TASK_SIZES } from '../../runtime/cost/profile.ts';
import { CoreChild } from '../../runtime/federation/intake.ts';

const AccountId = z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id');
const Region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-2');
/** CloudWatch Logs accepts only these retention periods. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;
const LogRetention = z
  .number()
  .int()
  .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
    message: `must be one of ${LOG_RETENTION_DAYS.join(', ')} days`,
  });

/** Fargate's valid cpu/memory pairs (cpu units → allowed MiB). */
export const FARGATE_MEMORY: Record<number, readonly number[]> = {
  256: [512, 1024, 2048],
  512: [1024, 2048, 3072, 4096],
  1024: [2048, 3072, 4096, 5120, 6144, 7168, 8192],
  2048: Array.from({ length: 13 }, (_, i) => 4096 + i * 1024),
  4096: Array.from({ length: 23 }, (_, i) => 8192 + i * 1024),
};

export const TaskSize = z
  .strictObject({
    cpu: z.union([z.literal(256), z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)]),
    memoryMiB: z.number().int(),
    /** Fargate gives 20 GiB; up to 200 for large source files and GDAL scratch space. */
    ephemeralStorageGiB: z.number().int().min(21).max(200).optional(),
  })
  .refine((t) => FARGATE_MEMORY[t.cpu]!.includes(t.memoryMiB), {
    message: 'memoryMiB is not a valid Fargate size for this cpu',
    path: ['memoryMiB'],
  });
export type TaskSize = z.infer<typeof TaskSize>;

const Base = {
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be lowercase letters, digits and -'),
  account: AccountId,
  region: Region,
  /** Stateful resources (buckets, the database) are retained unless this is set. */
  allowDestroy: z.boolean().default(false),
  logRetentionDays: LogRetention.default(90),
  alarmEmail: z.email().optional(),
};

export const CoreEnvironment = z
  .strictObject({
    ...Base,
    kind: z.literal('core'),
    /**
     * The children: each account may pull the task image and send summaries to the federation bus; each
     * summary must verify with its child's public key (`strata core pubkey`), refused until it is set.
     */
    children: z.array(CoreChild.extend({ account: AccountId })).default([]),
    /** Days an untagged image is kept; tagged images (what children pin) never expire. */
    untaggedImageDays: z.number().int().min(1).default(14),
  })
  .superRefine((e, ctx) => {
    for (const key of ['name', 'account'] as const) {
      const seen = new Set<string>();
      e.children.forEach((c, i) => {
        if (seen.has(c[key]))
          ctx.addIssue({ code: 'custom', path: ['children', i, key], message: `${c[key]} is listed twice` });
        seen.add(c[key]);
      });
    }
  });
export type CoreEnvironment = z.infer<typeof CoreEnvironment>;

export const ChildEnvironment = z
  .strictObject({
    ...Base,
    kind: z.literal('child'),
    /** Where the task image comes from: the core account's repository, or built here from tasks/Dockerfile. */
    /**
     * This child's catalog directory, relative to the repository root: deployed with the stack (the task image
     * holds code only), read by its tasks and functions, and the source of its schedules.
     */
    catalog: z.string().min(1).default('catalog'),
    /** The core account this child reports each publish to (its `strata-federation` event bus). */
    federation: z.strictObject({ coreAccount: AccountId, coreRegion: Region }).optional(),
    alarms: z
      .strictObject({
        /** A scheduled product with no new version for its schedule's longest gap plus this is stale. */
        staleGraceMinutes: z.number().int().min(5).default(120),
      })
      .default({ staleGraceMinutes: 120 }),
    image: z.discriminatedUnion('from', [
      z.strictObject({
        from: z.literal('core'),
        account: AccountId,
        region: Region,
        repository: z.string().min(1),
        tag: z.string().min(1),
      }),
      z.strictObject({ from: z.literal('standalone') }),
    ]),
    network: z
      .strictObject({
        /**
         * public-egress: tasks in public subnets with a public IP and no inbound rule, the database in isolated
         * subnets, an S3 gateway endpoint, no NAT. nat: private subnets behind one NAT gateway. endpoints:
         * isolated subnets with interface endpoints for ECR, logs, Secrets Manager and SQS.
         */
        mode: z.enum(['public-egress', 'nat', 'endpoints']).default('public-egress'),
        maxAzs: z.number().int().min(2).max(3).default(2),
      })
      .default({ mode: 'public-egress', maxAzs: 2 }),
    database: z
      .strictObject({
        minAcu: z.number().min(0).max(256).default(0),
        maxAcu: z.number().min(1).max(256).default(4),
        /** Seconds idle before Aurora pauses at 0 ACU (300 to 86400). */
        autoPauseSeconds: z.number().int().min(300).max(86_400).default(300),
      })
      .default(DEFAULT_DATABASE_CAPACITY),
    /** Task sizes by job class; a job asks for one, the reconciler retries an out-of-memory job one larger. */
    tasks: z
      .strictObject({ small: TaskSize, medium: TaskSize, large: TaskSize })
      .default(DEFAULT_TASK_SIZES as { small: TaskSize; medium: TaskSize; large: TaskSize }),
    maxConcurrentTasks: z.number().int().min(1).max(100).default(10),
    /** The one IAM role (by name) allowed to delete from the archive bucket; none by default. */
    archiveBreakGlassRole: z
      .string()
      .regex(/^[\w+=,.@-]{1,64}$/, 'must be an IAM role name')
      .optional(),
    ingress: z
      .strictObject({
        expireAfterDays: z.number().int().min(1).default(7),
        maxUploadBytes: z
          .number()
          .int()
          .positive()
          .default(5 * 1024 ** 3),
      })
      .default({ expireAfterDays: 7, maxUploadBytes: 5 * 1024 ** 3 }),
    api: z
      .strictObject({
        rateLimit: z.number().positive().default(50),
        burstLimit: z.number().int().positive().default(100),
        /** The URL partners use, when a proxy or CDN in front rewrites the Host (Hawk verifies against it). */
        publicBaseUrl: z.url({ protocol: /^https$/, message: 'must be an https:// URL' }).optional(),
        /** Origins whose web pages may read the partner API (CORS): `https://maps.example.org`, or `*`. */
        corsOrigins: z
          .array(
            z
              .string()
              .regex(/^(\*|https?:\/\/[^/?#\s]+)$/, 'must be scheme://host[:port] (no path), or * for any'),
          )
          .default([]),
        /**
         * Set API Gateway's account-wide CloudWatch role (AWS::ApiGateway::Account) from this stack. One per
         * account and region, which API Gateway needs before any stage may log: turn it on in exactly one stack
         * of an account that has none, never in two (the last deploy would own it, and its deletion remove it).
         */
        manageAccountCloudWatchRole: z.boolean().default(false),
        /**
         * The partner portal's sign-in with the organisation's OpenID Connect provider (a Cognito user pool's
         * issuer, or any): a public client (PKCE, no secret), and the ID token claim that names the partner.
         * @default none: partner staff sign in with an API key
         */
        portalSignIn: z
          .strictObject({
            issuer: z.url({ protocol: /^https$/, message: 'must be an https:// URL' }),
            clientId: z.string().min(1),
            partnerClaim: z.string().min(1),
            label: z.string().min(1).optional(),
          })
          .optional(),
      })
      .default({ rateLimit: 50, burstLimit: 100, manageAccountCloudWatchRole: false, corsOrigins: [] }),
  })
  .superRefine((e, ctx) => {
    if (e.database.maxAcu < e.database.minAcu)
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'maxAcu'],
        message: `must be at least minAcu (${e.database.minAcu})`,
      });
    if (e.database.minAcu > 0 && e.database.minAcu < 0.5)
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'minAcu'],
        message: 'must be 0 (auto-pause) or at least 0.5',
      });
  });
export type ChildEnvironment = z.infer<typeof ChildEnvironment>;

export const Environment = z.discriminatedUnion('kind', [CoreEnvironment, ChildEnvironment]);
export type Environment = z.infer<typeof Environment>;
