import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * How every function is bundled (bench/lambda-bundles.ts measures the same options):
 * - the AWS SDK clients package.json pins are bundled, not left to the runtime's copy (`externalModules: []`;
 *   CDK's default leaves `@aws-sdk/*` out): the code runs the versions it was tested with, and
 *   `@aws-sdk/lib-storage` and `@aws-sdk/s3-request-presigner`, which the runtime need not carry, are there;
 * - minified, with source maps written beside the bundle but not loaded: `--enable-source-maps` made Node read
 *   and parse a 2-4 MB map at every cold start. Names are kept, so a stack trace still says which function
 *   threw; the map decodes a position offline when one is needed.
 */
export const LAMBDA_BUNDLING = {
  format: nodejs.OutputFormat.ESM,
  target: 'node22',
  minify: true,
  keepNames: true,
  sourceMap: true,
  sourceMapMode: nodejs.SourceMapMode.EXTERNAL,
  sourcesContent: false,
  externalModules: [] as string[],
  // ESM bundles need require() for the CommonJS dependencies they pull in.
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
} as const;

export interface StrataFunctionProps {
  /** The handler file, relative to the repository root, e.g. `lambdas/dispatcher/handler.ts`. */
  readonly entry: string;
  readonly description: string;
  readonly environment?: Record<string, string>;
  /** @default 30 seconds */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  readonly logRetention: logs.RetentionDays;
  /** Caps concurrent executions (the dispatcher uses it to cap concurrent tasks). */
  readonly reservedConcurrentExecutions?: number;
  /** The exported function to run. @default 'handler' */
  readonly handler?: string;
  /**
   * Where an asynchronous invocation (EventBridge's) that failed every retry is put, the event as its body.
   * @default none: only for functions no one invokes asynchronously
   */
  readonly deadLetterQueue?: sqs.IQueue;
}

/**
 * One Lambda function the way every Strata function is made: bundled locally by esbuild (no Docker),
 * arm64, the newest Node.js runtime, X-Ray tracing, its own log group with the environment's retention.
 * Code only: a function that needs the catalog reads the one deployed with the stack (CatalogDeployment),
 * the same object the tasks read, rather than a copy bundled beside it that could drift from theirs.
 */
export class StrataFunction extends Construct {
  readonly fn: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: StrataFunctionProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    this.fn = new nodejs.NodejsFunction(this, 'Function', {
      entry: join(ROOT, props.entry),
      handler: props.handler ?? 'handler',
      projectRoot: ROOT,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      deadLetterQueue: props.deadLetterQueue,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'strata',
        ...props.environment,
      },
      bundling: { ...LAMBDA_BUNDLING, forceDockerBundling: false },
    });
  }
}
