import type { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseEnvironment } from '../../lib/config/environments.ts';
import { nagFindings, synthEnvironment } from './helpers.ts';

/** The guard rails and wiring that keep runs truthful, in the template. */
describe('child stack: truthful runs', () => {
  let stack: Stack;
  let t: Template;
  beforeAll(async () => {
    stack = await synthEnvironment('child-a');
    t = Template.fromStack(stack);
  });
  const bucketId = (part: string) =>
    Object.keys(t.findResources('AWS::S3::Bucket')).find((id) => id.includes(part))!;

  it('the archive bucket policy denies object and version deletes to every principal', () => {
    const archive = bucketId('ArchiveBucket');
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: archive },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'DenyArchiveDeletes',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [archive, 'Arn'] }, '/*']] },
          },
        ]),
      },
    });
  });

  it('a named break-glass role is the one principal the deny spares', async () => {
    const t2 = Template.fromStack(
      await synthEnvironment('child-a', { archiveBreakGlassRole: 'strata-break-glass' }),
    );
    t2.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'DenyArchiveDeletes',
            Effect: 'Deny',
            Condition: {
              ArnNotEquals: {
                'aws:PrincipalArn': {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      ':iam::',
                      { Ref: 'AWS::AccountId' },
                      ':role/strata-break-glass',
                    ],
                  ],
                },
              },
            },
          }),
        ]),
      },
    });
    expect(() => parseEnvironment('x', { ...childA(), archiveBreakGlassRole: 'no spaces allowed' })).toThrow(
      /archiveBreakGlassRole: must be an IAM role name/,
    );
  });

  it('the ingress bucket is versioned, its replaced versions expire with it, and tasks know the upload limit', () => {
    const ingress = t.findResources('AWS::S3::Bucket')[bucketId('IngressBucket')]!;
    expect(ingress.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(ingress.Properties.LifecycleConfiguration.Rules).toContainEqual({
      ExpirationInDays: 7,
      NoncurrentVersionExpiration: { NoncurrentDays: 7 },
      Status: 'Enabled',
    });
    for (const def of Object.values(t.findResources('AWS::ECS::TaskDefinition')))
      expect(def.Properties.ContainerDefinitions[0].Environment).toContainEqual({
        Name: 'STRATA_MAX_UPLOAD_BYTES',
        Value: String(5 * 1024 ** 3),
      });
  });

  it('a consumer on the dead-letter queue, and the dispatcher may send and the reconciler count jobs on the queue', () => {
    const queues = t.findResources('AWS::SQS::Queue');
    const dlq = Object.keys(queues).find((id) => id.includes('DeadLetter'))!;
    const jobs = Object.keys(queues).find((id) => !id.includes('DeadLetter'))!;
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [dlq, 'Arn'] },
      BatchSize: 10,
    });
    const statements = Object.entries(t.findResources('AWS::IAM::Policy')).map(([id, p]) => ({
      id,
      json: JSON.stringify(p.Properties.PolicyDocument.Statement),
    }));
    const grants = (fn: string, action: string) =>
      statements.some((s) => s.id.includes(fn) && s.json.includes(action) && s.json.includes(jobs));
    expect(grants('Dispatcher', 'sqs:SendMessage')).toBe(true);
    expect(grants('Reconciler', 'sqs:GetQueueAttributes')).toBe(true);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Jobs in the dead-letter queue'),
    });
  });

  it('every alarm on a Strata metric watches it with the dimension the code emits it with', () => {
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).filter(
      (a) => a.Properties.Namespace === 'Strata',
    );
    expect(alarms.map((a) => a.Properties.MetricName).sort()).toEqual([
      'JobsUnreadable',
      'RunsFailed',
      'TasksFailed',
    ]);
    for (const a of alarms) expect(a.Properties.Dimensions).toEqual([{ Name: 'service', Value: 'strata' }]);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: Match.anyValue() }],
      AlarmDescription: 'Strata DeadLetter function errors',
    });
  });

  it('has no unsuppressed cdk-nag findings with the new function and policies', () => {
    expect(nagFindings(stack, 'error')).toEqual([]);
    expect(nagFindings(stack, 'warning')).toEqual([]);
  });
});

function childA(): Record<string, unknown> {
  return {
    kind: 'child',
    name: 'x',
    account: '222222222222',
    region: 'eu-west-2',
    image: { from: 'standalone' },
  };
}
