import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

const ROOT = join(import.meta.dirname, '..', '..');

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
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'strata',
        ...props.environment,
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: true,
        forceDockerBundling: false,
        // ESM bundles need require() for the CommonJS dependencies they pull in.
        banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      },
    });
  }
}
