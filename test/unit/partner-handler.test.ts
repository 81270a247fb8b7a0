import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { addPartner } from '../../runtime/partners/admin.ts';
import { emptyDirectory } from '../../runtime/partners/credentials.ts';

const event = JSON.parse(
  readFileSync(join(import.meta.dirname, '../events/apigateway/partner-get-products.json'), 'utf8'),
);
const context = {
  functionName: 'partner-api',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 29_000,
} as unknown as Context;

describe('partner API handler', () => {
  const secrets = mockClient(SecretsManagerClient);
  const dynamo = mockClient(DynamoDBClient);
  const s3 = mockClient(S3Client);
  const { doc, issued } = addPartner(emptyDirectory(), 'acme', { scopes: ['read:products/*'] });
  let handler: (e: unknown, c: Context) => Promise<{ statusCode: number; body: string }>;

  beforeAll(async () => {
    Object.assign(process.env, {
      STRATA_INGRESS_BUCKET: 'ingress-bucket',
      STRATA_ARCHIVE_BUCKET: 'archive-bucket',
      STRATA_EGRESS_BUCKET: 'egress-bucket',
      STRATA_JOBS_QUEUE_URL: 'https://sqs.eu-west-2.amazonaws.com/222222222222/jobs',
      STRATA_DB_CLUSTER_ARN: 'arn:aws:rds:eu-west-2:222222222222:cluster:strata',
      STRATA_DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-2:222222222222:secret:db',
      STRATA_DB_NAME: 'strata',
      STRATA_PARTNERS_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-2:222222222222:secret:partners',
      STRATA_REQUEST_GUARDS_TABLE: 'guards',
      STRATA_MAX_UPLOAD_BYTES: '1000000',
      STRATA_CATALOG: join(import.meta.dirname, '../../catalog'),
      POWERTOOLS_DEV: 'true',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      AWS_REGION: 'eu-west-2',
    });
    const mod = await import('../../lambdas/partner-api/handler.ts');
    handler = mod.handler as unknown as typeof handler;
  });

  it('answers an API Gateway event from the partner secret, the request table and the egress bucket', async () => {
    // Prepare: the partner directory in its secret; no product published yet.
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(doc) });
    dynamo.on(UpdateItemCommand).resolves({});
    s3.on(HeadObjectCommand).rejects(Object.assign(new Error('missing'), { name: 'NotFound' }));
    const request = structuredClone(event);
    request.headers['X-API-Key'] = issued.apiKey!.key;
    request.multiValueHeaders['X-API-Key'] = [issued.apiKey!.key];

    // Act
    const res = await handler(request, context);

    // Assess: the demo catalog's product, unpublished, with links through the stage.
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).products).toEqual([
      expect.objectContaining({
        name: 'county_places',
        latest: null,
        links: expect.arrayContaining([
          expect.objectContaining({
            href: 'https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/v1/products/county_places',
          }),
        ]),
      }),
    ]);
    expect(secrets.commandCalls(GetSecretValueCommand)[0]!.args[0].input.SecretId).toMatch(
      /secret:partners$/,
    );
    expect(dynamo.commandCalls(UpdateItemCommand)[0]!.args[0].input).toMatchObject({
      TableName: 'guards',
      Key: { pk: { S: 'rate#acme' } },
    });
    expect(s3.commandCalls(HeadObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: 'egress-bucket',
      Key: 'products/county_places/latest.json',
    });
  });
});
