import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../runtime/aws/names.ts';
import { PORTAL_OIDC_ENV } from '../../runtime/portal/env.ts';
import type { CatalogDeployment } from './catalog-deployment.ts';
import type { PostgisCluster } from './postgis-cluster.ts';
import type { PublishNotifications } from './publish-notifications.ts';
import { StrataFunction } from './strata-function.ts';

export interface PartnerApiProps {
  readonly database: PostgisCluster;
  /** The child's catalog: what partners may see and send is named in it. */
  readonly catalog: CatalogDeployment;
  readonly buckets: {
    readonly ingress: s3.IBucket;
    readonly archive: s3.IBucket;
    readonly egress: s3.IBucket;
  };
  readonly jobsQueue: sqs.IQueue;
  readonly webhook: lambda.IFunction;
  /** The environment's largest upload, in bytes. */
  readonly maxUploadBytes: number;
  /** Requests a second for the whole API, steady state (each partner has its own limit too). @default 50 */
  readonly rateLimit?: number;
  /** @default 100 */
  readonly burstLimit?: number;
  /**
   * The URL partners use, when a proxy or CDN in front rewrites the Host (Hawk verifies against it, links
   * are made with it). @default what API Gateway's Host and stage say
   */
  readonly publicBaseUrl?: string;
  /** Origins whose web pages may read the API (CORS), `scheme://host[:port]` or `*`. @default none */
  readonly corsOrigins?: readonly string[];
  /**
   * The partner portal's OpenID Connect provider: its issuer, a public client's id (PKCE), the ID token claim
   * that names the partner, and what the sign-in button calls it. @default none: API keys only
   */
  readonly portalSignIn?: {
    readonly issuer: string;
    readonly clientId: string;
    readonly partnerClaim: string;
    readonly label?: string;
  };
  /**
   * Make API Gateway's account-wide CloudWatch role here (AWS::ApiGateway::Account, one per account and
   * region): only in the one stack of an account that has none. @default false: the account has one already
   */
  readonly manageAccountCloudWatchRole?: boolean;
  /** Partners' publish notifications: subscribing makes their EventBridge resources. @default none: 503 */
  readonly notifications?: PublishNotifications;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The partner API on API Gateway (REST): every path goes to the one HTTP application in a Lambda, which
 * authenticates partners itself (Hawk signs host, port and path as the client saw them, which only the
 * function can check, with the body), except `POST /webhooks/{hook}`, which goes to the webhook function.
 *
 * Partners, their keys and scopes live in one Secrets Manager secret (`strata partners --secret-id`); Hawk
 * nonces and per-partner request counts in an on-demand DynamoDB table with a TTL, so replay protection
 * and throttling hold across instances and never wake Aurora. The function is granted exactly: reading
 * published objects in egress and datasets' and quarantine's records in the archive (the console reads them
 * too), putting objects under `partners/` in ingress (what its presigned PUTs do), sending jobs (builds, and
 * the console's retries and releases), the Data API (uploads' receipts, builds, runs), the table, and the secret.
 */
export class PartnerApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly handler: StrataFunction;
  readonly partners: secretsmanager.Secret;
  readonly guards: dynamodb.Table;

  constructor(scope: Construct, id: string, props: PartnerApiProps) {
    super(scope, id);
    const rateLimit = props.rateLimit ?? 50;
    const burstLimit = props.burstLimit ?? 100;
    if (rateLimit <= 0 || burstLimit < 1)
      throw new Error(`\`rateLimit\` and \`burstLimit\` must be positive, got: ${rateLimit}, ${burstLimit}.`);
    if (props.publicBaseUrl !== undefined && !/^https:\/\/[^/]+(\/.*)?$/.test(props.publicBaseUrl))
      throw new Error(`\`publicBaseUrl\` must be an https:// URL, got: ${props.publicBaseUrl}.`);
    for (const origin of props.corsOrigins ?? [])
      if (!/^(\*|https?:\/\/[^/?#\s]+)$/.test(origin))
        throw new Error(`\`corsOrigins\` must be scheme://host[:port] or *, got: ${origin}.`);

    this.partners = new secretsmanager.Secret(this, 'PartnerDirectory', {
      description:
        'Strata partner API: partners, their Hawk keys, API key hashes and scopes (strata partners)',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ version: 1, partners: {} }),
        generateStringKey: 'signingKey',
        passwordLength: 64,
        excludePunctuation: true,
      },
    });
    this.guards = new dynamodb.Table(this, 'RequestGuards', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Nonces and request counts live for minutes: nothing here outlives a redeploy worth keeping.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.handler = new StrataFunction(this, 'Handler', {
      entry: 'lambdas/partner-api/handler.ts',
      description:
        'Partner API: Hawk and API keys, catalog, versions, OGC API Features, uploads, builds, runs',
      logRetention: props.logRetention,
      // API Gateway gives up at 29 s; the function answers 503 before then when Aurora is resuming.
      timeout: Duration.seconds(29),
      memorySize: 512,
      environment: {
        ...props.database.dataApiEnvironment(),
        ...props.catalog.environment(),
        [ENV.ingressBucket]: props.buckets.ingress.bucketName,
        [ENV.archiveBucket]: props.buckets.archive.bucketName,
        [ENV.egressBucket]: props.buckets.egress.bucketName,
        [ENV.jobsQueueUrl]: props.jobsQueue.queueUrl,
        [ENV.partnersSecretArn]: this.partners.secretArn,
        [ENV.requestGuardsTable]: this.guards.tableName,
        [ENV.maxUploadBytes]: String(props.maxUploadBytes),
        ...(props.publicBaseUrl ? { [ENV.publicBaseUrl]: props.publicBaseUrl } : {}),
        ...(props.corsOrigins?.length ? { [ENV.corsOrigins]: props.corsOrigins.join(',') } : {}),
        ...portalSignInEnvironment(props.portalSignIn),
        ...props.notifications?.environment(),
      },
    });
    const fn = this.handler.fn;
    props.database.grantDataApi(fn);
    props.catalog.grantRead(fn);
    props.jobsQueue.grantSendMessages(fn);
    this.partners.grantRead(fn);
    props.notifications?.grantManage(fn);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        // GetItem: whether a console or portal session was signed out (runtime/web/session.ts).
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [this.guards.tableArn],
      }),
    );
    const { ingress, archive, egress } = props.buckets;
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [egress.arnForObjects('products/*')] }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [egress.bucketArn],
        conditions: { StringLike: { 's3:prefix': ['products/*'] } },
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        // The console's reads too: datasets' current pointer and its history, quarantine's records (not the
        // quarantined bytes), and the QA report of a build that failed its checks.
        resources: [
          archive.arnForObjects('datasets/*/metadata.json'),
          archive.arnForObjects('datasets/*/current.json'),
          archive.arnForObjects('datasets/*/events/*'),
          ...['metadata', 'receipt', 'release'].map((f) => archive.arnForObjects(`quarantine/*/${f}.json`)),
          archive.arnForObjects('runs/*/qa.html'),
        ],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [archive.bucketArn],
        // runs/*: the size of a failed build's QA report, which decides between the page and a short-lived URL.
        conditions: { StringLike: { 's3:prefix': ['datasets/*', 'quarantine/*', 'runs/*'] } },
      }),
    );
    // What a presigned PUT does is done with these rights: only into partners' prefixes of ingress.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [ingress.arnForObjects('partners/*')],
      }),
    );

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.api = new apigateway.RestApi(this, 'Api', {
      description: 'Strata partner API',
      cloudWatchRole: props.manageAccountCloudWatchRole ?? false,
      deployOptions: {
        stageName: 'v1',
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        tracingEnabled: true,
        throttlingRateLimit: rateLimit,
        throttlingBurstLimit: burstLimit,
      },
      endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
    });
    const validator = this.api.addRequestValidator('Validator', {
      validateRequestParameters: true,
      validateRequestBody: true,
    });
    // The application routes, validates and documents its own paths (docs/openapi.json).
    const app = new apigateway.LambdaIntegration(fn);
    this.api.root.addMethod('ANY', app);
    this.api.root.addResource('{proxy+}').addMethod('ANY', app, {
      requestParameters: { 'method.request.path.proxy': true },
    });
    const hook = this.api.root.addResource('webhooks').addResource('{hook}');
    hook.addMethod('POST', new apigateway.LambdaIntegration(props.webhook), {
      requestValidator: validator,
      requestParameters: {
        'method.request.path.hook': true,
        'method.request.header.X-Hub-Signature-256': true,
      },
    });
    // Any other method on a hook is answered 405 with Allow: POST by API Gateway itself (without it, API
    // Gateway's 403 "Missing Authentication Token" would say the wrong thing); POST outranks ANY.
    hook.addMethod(
      'ANY',
      new apigateway.MockIntegration({
        requestTemplates: { 'application/json': '{"statusCode": 405}' },
        // The one integration response has no selection pattern, so it answers whatever the mock returns.
        passthroughBehavior: apigateway.PassthroughBehavior.WHEN_NO_MATCH,
        integrationResponses: [
          {
            statusCode: '405',
            responseParameters: { 'method.response.header.Allow': "'POST'" },
            responseTemplates: {
              'application/json': JSON.stringify({ error: 'a webhook takes POST only' }),
            },
          },
        ],
      }),
      {
        methodResponses: [
          { statusCode: '405', responseParameters: { 'method.response.header.Allow': true } },
        ],
      },
    );
  }
}

/** The portal's provider as the function reads it (runtime/portal/oidc.ts, portalSignInFromEnv). */
function portalSignInEnvironment(p: PartnerApiProps['portalSignIn']): Record<string, string> {
  if (!p) return {};
  return {
    [PORTAL_OIDC_ENV.issuer]: p.issuer,
    [PORTAL_OIDC_ENV.clientId]: p.clientId,
    [PORTAL_OIDC_ENV.partnerClaim]: p.partnerClaim,
    ...(p.label ? { [PORTAL_OIDC_ENV.label]: p.label } : {}),
  };
}
