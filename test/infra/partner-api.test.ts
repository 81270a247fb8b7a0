import type { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { nagFindings, synthEnvironment } from './helpers.ts';

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };

/** The logical id of the partner API function, and every statement its role is given. */
function partnerFunction(t: Template): { id: string; statements: Statement[] } {
  const fns = t.findResources('AWS::Lambda::Function', {
    Properties: { Description: Match.stringLikeRegexp('^Partner API') },
  });
  const [id, fn] = Object.entries(fns)[0]!;
  const role = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const policies = t.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: role }]) },
  });
  return {
    id,
    statements: Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]),
  };
}

const actionsOf = (statements: Statement[]) =>
  statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])).sort();
const text = (v: unknown) => JSON.stringify(v);

describe('partner API on AWS', () => {
  let stack: Stack;
  let t: Template;
  beforeAll(async () => {
    stack = await synthEnvironment('child-a');
    t = Template.fromStack(stack);
  });

  it('sends every path to the one application, and webhooks to the webhook function', () => {
    // Act
    const { id } = partnerFunction(t);
    const methods = t.findResources('AWS::ApiGateway::Method');
    const integrated = (m: Record<string, { Integration?: { Uri?: unknown } }>) =>
      text(m.Properties?.Integration?.Uri ?? null);
    // Assess
    const toApp = Object.values(methods).filter((m) => integrated(m).includes(id));
    expect(toApp.map((m) => m.Properties.HttpMethod)).toEqual(['ANY', 'ANY']);
    t.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
    const webhook = Object.values(methods).find((m) => m.Properties.HttpMethod === 'POST')!;
    expect(integrated(webhook)).toMatch(/Webhook/);
    // Any other method on a hook is API Gateway's own 405 (issue 18), not the application's.
    const others = Object.values(methods).filter((m) => m.Properties.Integration?.Type === 'MOCK');
    expect(others.map((m) => m.Properties.HttpMethod)).toEqual(['ANY']);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Partner API'),
      Timeout: 29,
      Environment: {
        Variables: Match.objectLike({
          STRATA_PARTNERS_SECRET_ARN: Match.anyValue(),
          STRATA_REQUEST_GUARDS_TABLE: Match.anyValue(),
          STRATA_EGRESS_BUCKET: Match.anyValue(),
          STRATA_INGRESS_BUCKET: Match.anyValue(),
          STRATA_JOBS_QUEUE_URL: Match.anyValue(),
          STRATA_MAX_UPLOAD_BYTES: Match.anyValue(),
        }),
      },
    });
  });

  it('keeps nonces and request counts in an on-demand table with a TTL, and partners in a secret', () => {
    t.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
    t.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({
        SecretStringTemplate: JSON.stringify({ version: 1, partners: {} }),
        GenerateStringKey: 'signingKey',
      }),
    });
    t.hasOutput('PartnerDirectorySecretArn', Match.anyValue());
  });

  it('grants the function exactly what it needs: read published data, put into partners/, queue, table, secret', () => {
    // Act
    const { statements } = partnerFunction(t);
    const s3 = statements.filter((s) => actionsOf([s]).some((a) => a.startsWith('s3:')));
    // Assess: S3 only these six, each on one prefix of one bucket (or the one catalog object).
    expect(s3.map((s) => [actionsOf([s]).join(','), text(s.Resource), text(s.Condition ?? null)])).toEqual([
      ['s3:GetObject', expect.stringMatching(/assets.*\/[0-9a-f]{64}\.json/), 'null'],
      ['s3:GetObject', expect.stringMatching(/EgressBucket.*\/products\/\*/), 'null'],
      [
        's3:ListBucket',
        expect.stringMatching(/EgressBucket/),
        text({ StringLike: { 's3:prefix': ['products/*'] } }),
      ],
      [
        's3:GetObject',
        expect.stringMatching(
          /ArchiveBucket.*\/datasets\/\*\/metadata\.json.*\/datasets\/\*\/current\.json.*\/datasets\/\*\/events\/\*.*\/quarantine\/\*\/metadata\.json.*\/quarantine\/\*\/receipt\.json.*\/quarantine\/\*\/release\.json.*\/runs\/\*\/qa\.html/,
        ),
        'null',
      ],
      [
        's3:ListBucket',
        expect.stringMatching(/ArchiveBucket/),
        text({ StringLike: { 's3:prefix': ['datasets/*', 'quarantine/*', 'runs/*'] } }),
      ],
      ['s3:PutObject', expect.stringMatching(/IngressBucket.*\/partners\/\*/), 'null'],
    ]);
    const actions = actionsOf(statements);
    expect(actions.filter((a) => a.startsWith('dynamodb:'))).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    expect(actions).toEqual(expect.arrayContaining(['sqs:SendMessage', 'secretsmanager:GetSecretValue']));
    expect(actions.some((a) => a.startsWith('rds-data:'))).toBe(true);
    // It deletes nothing but what a subscription made (its EventBridge resources and their connection's
    // secret), each granted by the stack's name prefix only.
    expect(actions.filter((a) => /Delete|s3:\*|dynamodb:\*|ecs:/.test(a))).toEqual([
      'events:DeleteApiDestination',
      'events:DeleteConnection',
      'events:DeleteRule',
      'secretsmanager:DeleteSecret',
    ]);
    const deleting = statements.filter((s) => actionsOf([s]).some((a) => a.includes('Delete')));
    expect(deleting).toHaveLength(4);
    for (const s of deleting)
      expect(text(s.Resource)).toMatch(/(connection|api-destination|rule\/.*)\/strata-child-a-\*/);
  });

  it('passes cdk-nag with the findings it accepts suppressed, each with its reason', () => {
    expect(nagFindings(stack, 'error')).toEqual([]);
    expect(nagFindings(stack, 'warning')).toEqual([]);
  });

  it('hands a configured public URL to the function (Hawk verifies against it), and refuses one not https', async () => {
    // Act
    const configured = Template.fromStack(
      await synthEnvironment('child-a', { api: { publicBaseUrl: 'https://data.example.org/partners' } }),
    );
    // Assess
    configured.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Partner API'),
      Environment: {
        Variables: Match.objectLike({ STRATA_PUBLIC_BASE_URL: 'https://data.example.org/partners' }),
      },
    });
    await expect(
      synthEnvironment('child-a', { api: { publicBaseUrl: 'http://data.example.org' } }),
    ).rejects.toThrow(/api\.publicBaseUrl: must be an https:\/\/ URL/);
  });

  it('hands configured CORS origins to the function, none by default, and refuses one with a path', async () => {
    // Act
    const configured = Template.fromStack(
      await synthEnvironment('child-a', {
        api: { corsOrigins: ['https://maps.example.org', 'http://localhost:5173'] },
      }),
    );
    // Assess
    configured.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Partner API'),
      Environment: {
        Variables: Match.objectLike({
          STRATA_CORS_ORIGINS: 'https://maps.example.org,http://localhost:5173',
        }),
      },
    });
    type Fn = {
      Properties?: { Description?: string; Environment?: { Variables?: Record<string, unknown> } };
    };
    const resources = Template.fromStack(stack).toJSON().Resources as Record<string, Fn>;
    const fn = Object.values(resources).find((r) => r.Properties?.Description?.startsWith('Partner API'));
    expect(fn?.Properties?.Environment?.Variables).toBeDefined();
    expect(fn?.Properties?.Environment?.Variables?.STRATA_CORS_ORIGINS).toBeUndefined();
    await expect(
      synthEnvironment('child-a', { api: { corsOrigins: ['https://maps.example.org/app'] } }),
    ).rejects.toThrow(/api\.corsOrigins\[0\]: must be scheme:\/\/host\[:port\]/);
  });

  it("delivers partners' publish notifications through EventBridge: a bus, an invoke role, a DLQ only the stack's rules may fill", () => {
    t.resourceCountIs('AWS::Events::EventBus', 1);
    const bus = Object.keys(t.findResources('AWS::Events::EventBus'))[0]!;
    // The role EventBridge invokes the API destinations with: that and nothing more, on the stack's prefix.
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'events:InvokeApiDestination',
            Effect: 'Allow',
            Resource: {
              'Fn::Join': [
                '',
                Match.arrayWith([Match.stringLikeRegexp(':api-destination/strata-child-a-\\*$')]),
              ],
            },
          },
        ],
      },
    });
    // The dead-letter queue admits EventBridge for the subscriptions' rules on the bus, by name prefix.
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: {
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Join': ['', Match.arrayWith([{ Ref: bus }, '/strata-child-a-*'])],
                },
              },
            },
          }),
        ]),
      },
    });
    // The task puts on the bus; the function and the task are told where everything is.
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'events:PutEvents', Resource: { 'Fn::GetAtt': [bus, 'Arn'] } }),
        ]),
      },
    });
    // What EventBridge gave up on is taken by the dead-letter function, which counts it against the subscription.
    const dlq = Object.keys(
      t.findResources('AWS::SQS::Queue', { UpdateReplacePolicy: Match.anyValue() }),
    ).find((id) => id.startsWith('NotificationsDeadLetterQueue'));
    expect(dlq).toBeDefined();
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [dlq, 'Arn'] },
      FunctionName: { Ref: Match.stringLikeRegexp('^TriggersDeadLetter') },
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'NumberOfMessagesReceived',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
    });
    const env = {
      STRATA_NOTIFICATIONS_BUS: { Ref: bus },
      STRATA_NOTIFICATIONS_PREFIX: 'strata-child-a-',
      STRATA_NOTIFICATIONS_ROLE_ARN: Match.anyValue(),
      STRATA_NOTIFICATIONS_DLQ_ARN: Match.anyValue(),
    };
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Partner API'),
      Environment: { Variables: Match.objectLike(env) },
    });
    t.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: Match.arrayWith([
        Match.objectLike({
          Environment: Match.arrayWith([{ Name: 'STRATA_NOTIFICATIONS_PREFIX', Value: 'strata-child-a-' }]),
        }),
      ]),
    });
  });
});

describe("the partner portal's sign-in on AWS", () => {
  it("gives the partner API's function the organisation's provider from the config, and none by default", async () => {
    // Prepare
    const portalSignIn = {
      issuer: 'https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_Example',
      clientId: 'portal-client',
      partnerClaim: 'custom:strata_partner',
      label: 'Council login',
    };
    // Act
    const withProvider = Template.fromStack(await synthEnvironment('child-a', { api: { portalSignIn } }));
    const without = Template.fromStack(await synthEnvironment('child-b'));
    const environment = (t: Template) =>
      t.findResources('AWS::Lambda::Function', {
        Properties: { Description: Match.stringLikeRegexp('^Partner API') },
      });
    const vars = (t: Template) =>
      Object.values(environment(t))[0]!.Properties.Environment.Variables as Record<string, unknown>;
    // Assess
    expect(vars(withProvider)).toMatchObject({
      STRATA_PORTAL_OIDC_ISSUER: portalSignIn.issuer,
      STRATA_PORTAL_OIDC_CLIENT_ID: 'portal-client',
      STRATA_PORTAL_OIDC_PARTNER_CLAIM: 'custom:strata_partner',
      STRATA_PORTAL_OIDC_LABEL: 'Council login',
    });
    expect(Object.keys(vars(without)).filter((k) => k.startsWith('STRATA_PORTAL_OIDC'))).toEqual([]);
  });
});
