import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV } from '../../runtime/aws/names.ts';
import type { PostgisCluster } from './postgis-cluster.ts';
import { StrataFunction } from './strata-function.ts';

export interface PartnerApiProps {
  readonly database: PostgisCluster;
  readonly egressBucketName: string;
  readonly webhook: lambda.IFunction;
  /** Requests a second, steady state. @default 50 */
  readonly rateLimit?: number;
  /** @default 100 */
  readonly burstLimit?: number;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The partner API on API Gateway: catalog, versions, run status, downloads (Hawk-authenticated in the
 * function), and the webhook route. Access logs, request validation and throttling are on the stage.
 */
export class PartnerApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly handler: StrataFunction;

  constructor(scope: Construct, id: string, props: PartnerApiProps) {
    super(scope, id);
    const rateLimit = props.rateLimit ?? 50;
    const burstLimit = props.burstLimit ?? 100;
    if (rateLimit <= 0 || burstLimit < 1)
      throw new Error(`\`rateLimit\` and \`burstLimit\` must be positive, got: ${rateLimit}, ${burstLimit}.`);
    this.handler = new StrataFunction(this, 'Handler', {
      entry: 'lambdas/partner-api/handler.ts',
      description: 'Partner API: Hawk-authenticated catalog, versions, runs and downloads',
      logRetention: props.logRetention,
      environment: {
        ...props.database.dataApiEnvironment(),
        [ENV.egressBucket]: props.egressBucketName,
      },
    });
    props.database.grantDataApi(this.handler.fn);
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.api = new apigateway.RestApi(this, 'Api', {
      description: 'Strata partner API',
      cloudWatchRole: true,
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
    const integration = new apigateway.LambdaIntegration(this.handler.fn);
    const get = (resource: apigateway.IResource, params: Record<string, boolean> = {}) =>
      resource.addMethod('GET', integration, {
        requestValidator: validator,
        requestParameters: { 'method.request.header.Authorization': true, ...params },
      });
    get(this.api.root.addResource('catalog'));
    const datasets = this.api.root.addResource('datasets').addResource('{dataset}');
    get(datasets.addResource('versions'), { 'method.request.path.dataset': true });
    const products = this.api.root.addResource('products').addResource('{product}');
    const productVersions = products.addResource('versions');
    get(productVersions, { 'method.request.path.product': true });
    get(productVersions.addResource('{version}'), {
      'method.request.path.product': true,
      'method.request.path.version': true,
    });
    get(this.api.root.addResource('runs').addResource('{run}'), { 'method.request.path.run': true });
    this.api.root
      .addResource('webhooks')
      .addResource('{hook}')
      .addMethod('POST', new apigateway.LambdaIntegration(props.webhook), {
        requestValidator: validator,
        requestParameters: {
          'method.request.path.hook': true,
          'method.request.header.X-Hub-Signature-256': true,
        },
      });
  }
}
