import type { Stack } from 'aws-cdk-lib';
import { NagSuppressions } from 'cdk-nag';

/**
 * Every AwsSolutions finding Strata accepts, each with its reason. Suppressions are by rule and, where
 * the finding is about one resource, by path — never for a whole stack without a reason that holds for
 * every resource in it.
 */
const NODE_RUNTIME = {
  id: 'AwsSolutions-L1',
  reason:
    'Functions run on Node.js 22, the newest runtime this CDK version and esbuild target both support for ESM ' +
    'bundles; the custom resource Provider framework picks its own runtime.',
};

/** The core account: the image repository and the federation intake. */
export function suppressCoreFindings(stack: Stack): void {
  NagSuppressions.addStackSuppressions(stack, [
    NODE_RUNTIME,
    {
      id: 'AwsSolutions-IAM4',
      reason: 'AWSLambdaBasicExecutionRole is what AWS provides for function logs.',
      appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
    },
    {
      id: 'AwsSolutions-IAM5',
      reason: 'X-Ray trace segments (function tracing) have no resource-level permissions.',
      appliesTo: ['Resource::*'],
    },
    {
      id: 'AwsSolutions-SQS3',
      reason: "This queue is the federation intake's dead-letter queue itself.",
    },
    {
      id: 'AwsSolutions-DDB3',
      reason:
        "The freshness table holds each child's latest summary of each product, rebuilt by its next publish: " +
        'point-in-time recovery would be a standing charge to back up data that restores itself.',
    },
  ]);
}

export function suppressChildFindings(stack: Stack): void {
  NagSuppressions.addStackSuppressions(stack, [
    {
      id: 'AwsSolutions-IAM4',
      reason:
        'AWS managed policies are used only where AWS requires them: AWSLambdaBasicExecutionRole and ' +
        'AWSLambdaVPCAccessExecutionRole for function logs, and AmazonAPIGatewayPushToCloudWatchLogs for API Gateway logging.',
      appliesTo: [
        'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
        'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs',
      ],
    },
    {
      id: 'AwsSolutions-IAM5',
      reason:
        'Object-level wildcards inside one named Strata bucket, from CDK grants (read and put only: no delete ' +
        'is granted on the archive).',
      appliesTo: [
        'Action::s3:Abort*',
        'Action::s3:GetBucket*',
        'Action::s3:GetObject*',
        'Action::s3:List*',
        { regex: '/^Resource::<Buckets(Ingress|Archive|Egress)Bucket[0-9A-F]+\\.Arn>\\/\\*$/g' },
      ],
    },
    {
      id: 'AwsSolutions-IAM5',
      reason:
        "The partner API function reads published products (egress products/*) and datasets' metadata (archive " +
        "datasets/*/metadata.json); for the operators' console, datasets' current pointers and their history " +
        "(datasets/*/current.json, datasets/*/events/*), quarantine's records but not the quarantined bytes " +
        "(quarantine/*/{metadata,receipt,release}.json) and failed builds' QA reports (runs/*/qa.html); and it " +
        "presigns uploads into partners' prefixes (ingress partners/*): object wildcards under one prefix of one " +
        'bucket each, read or put only.',
      appliesTo: [
        { regex: '/^Resource::<BucketsEgressBucket[0-9A-F]+\\.Arn>\\/products\\/\\*$/g' },
        { regex: '/^Resource::<BucketsArchiveBucket[0-9A-F]+\\.Arn>\\/datasets\\/\\*\\/metadata\\.json$/g' },
        {
          regex:
            '/^Resource::<BucketsArchiveBucket[0-9A-F]+\\.Arn>\\/datasets\\/\\*\\/(current\\.json|events\\/\\*)$/g',
        },
        {
          regex:
            '/^Resource::<BucketsArchiveBucket[0-9A-F]+\\.Arn>\\/quarantine\\/\\*\\/(metadata|receipt|release)\\.json$/g',
        },
        { regex: '/^Resource::<BucketsArchiveBucket[0-9A-F]+\\.Arn>\\/runs\\/\\*\\/qa\\.html$/g' },
        { regex: '/^Resource::<BucketsIngressBucket[0-9A-F]+\\.Arn>\\/partners\\/\\*$/g' },
      ],
    },
    {
      id: 'AwsSolutions-IAM5',
      reason:
        'Actions with no resource-level permissions: X-Ray trace segments (function tracing), ' +
        'ecr:GetAuthorizationToken (image pulls), logs:PutRetentionPolicy (CDK log retention), CloudWatch Logs ' +
        "delivery for the migrations waiter's state machine, and ECS DescribeTasks/ListTasks/StopTask, which are " +
        'conditioned on the Strata cluster ARN.',
      appliesTo: ['Resource::*'],
    },
    {
      id: 'AwsSolutions-IAM5',
      reason:
        "Partners' publish notifications: each subscription's connection, API destination and rule are made at " +
        'runtime by the partner-API function (and invoked by EventBridge through the invoke role), named with the ' +
        "stack's prefix and the subscription id, which is not known at deploy; the wildcard is that name prefix " +
        "(on the notifications bus, for rules), and the connection's secret EventBridge makes under the same name.",
      appliesTo: [
        {
          regex:
            '/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):events:[^:]+:[^:]+:(connection|api-destination)\\/strata-[a-z0-9-]+-\\*$/g',
        },
        {
          regex:
            '/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):events:[^:]+:[^:]+:rule\\/<NotificationsBus[0-9A-F]+>\\/strata-[a-z0-9-]+-\\*$/g',
        },
        {
          regex:
            '/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):secretsmanager:[^:]+:[^:]+:secret:events!connection\\/strata-[a-z0-9-]+-\\*$/g',
        },
      ],
    },
    {
      id: 'AwsSolutions-IAM5',
      reason:
        "lambda:InvokeFunction on a function's versions and aliases (`<arn>:*`): the custom resource Provider " +
        'framework grants it to call the migration handlers and its own waiter functions, nothing else.',
      appliesTo: [
        {
          regex:
            '/^Resource::<Database(Migrator|MigrationsApply|MigrationsProviderframework[A-Za-z]+)[A-Za-z0-9]*\\.Arn>:\\*$/g',
        },
      ],
    },
    {
      id: 'AwsSolutions-IAM5',
      reason:
        "ecs:TagResource on the Strata cluster's tasks (task/<cluster>/*): RunTask with tags is also authorised as " +
        'TagResource on the task it creates, whose id is not known before; conditioned on ecs:CreateAction = ' +
        'RunTask, so it can tag nothing RunTask did not just create.',
      appliesTo: [
        // The partition is a token in an environment-agnostic stack and `aws` once the account and region are set.
        {
          regex:
            '/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):ecs:.*:task\\/<TasksCluster[0-9A-F]+>\\/\\*$/g',
        },
      ],
    },
    {
      id: 'AwsSolutions-SF2',
      reason:
        "The migrations Provider's waiter state machine is CDK's own and runs for minutes per deploy: its " +
        'tracing is not configurable, and every execution is logged at level ALL.',
    },
    NODE_RUNTIME,
    {
      id: 'AwsSolutions-SQS3',
      reason:
        "These queues are dead-letter queues themselves: the jobs queue's, and EventBridge targets' (triggers, the forward to the core, and partners' publish notifications).",
    },
    {
      id: 'AwsSolutions-APIG3',
      reason:
        'No WAF: it costs a standing monthly fee that would break the scale-to-zero promise; requests are ' +
        'throttled on the stage and authenticated with Hawk in the function.',
    },
    {
      id: 'AwsSolutions-APIG4',
      reason:
        'Authorization is Hawk or API keys (partners) and HMAC signatures (webhooks), verified in the functions: Hawk signs ' +
        'the host, port, path and body as the client sent them, which only the function sees; API Gateway has no authorizer for it.',
    },
    {
      id: 'AwsSolutions-COG4',
      reason:
        'Partners authenticate with Hawk credentials or API keys, verified in the function, not as Cognito users.',
    },
    {
      id: 'AwsSolutions-RDS11',
      reason:
        'The default port is kept: the cluster is in isolated subnets and reachable only from the task security group.',
    },
    {
      id: 'AwsSolutions-ECS2',
      reason:
        'Task environment variables hold resource names only (buckets, host, secret ARN); credentials come from Secrets Manager and IAM at run time.',
    },
    {
      id: 'AwsSolutions-SMG4',
      reason:
        'Webhook secrets are shared with the senders of webhooks, so they are rotated with them by hand; partner keys ' +
        'in the partner directory are rotated one by one with strata partners add-key and revoke-key (a key per ' +
        "partner, handed over by hand); the federation key's public key is in the core's config, so it is rotated " +
        "with the core's config, by hand; the database password is managed and rotated by RDS.",
    },
    {
      id: 'AwsSolutions-EC23',
      reason:
        "The only CIDR ingress rules are the interface endpoints' (network mode `endpoints`): HTTPS from the VPC's " +
        'own CIDR block, an intrinsic cdk-nag cannot resolve; no rule admits 0.0.0.0/0.',
    },
    {
      id: 'AwsSolutions-VPC7',
      reason: 'Flow logs are on, recording rejected traffic.',
    },
  ]);
}
