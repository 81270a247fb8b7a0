import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { loadEnvironments, parseEnvironment } from '../../lib/config/environments.ts';
import { eventBridgeExpression } from '../../lib/constructs/triggers.ts';
import { nagFindings, synthEnvironment } from './helpers.ts';

describe('core stack', () => {
  it('holds a scanned, immutable image repository that the child accounts may pull from', async () => {
    const stack = await synthEnvironment('core-region');
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::ECR::Repository', {
      RepositoryName: 'strata-task',
      ImageScanningConfiguration: { ScanOnPush: true },
      ImageTagMutability: 'IMMUTABLE',
    });
    const repo = Object.values(t.findResources('AWS::ECR::Repository'))[0]!;
    const policy = JSON.stringify(repo.Properties.RepositoryPolicyText);
    for (const account of ['222222222222', '333333333333']) expect(policy).toContain(`:iam::${account}:root`);
    expect(policy).toContain('ecr:BatchGetImage');
    expect(policy).not.toContain('ecr:PutImage');
    expect(nagFindings(stack, 'error')).toEqual([]);
  });

  it('expires only untagged images, so a tag a child pins is never deleted', async () => {
    // Prepare
    const t = Template.fromStack(await synthEnvironment('core-region'));
    const repo = Object.values(t.findResources('AWS::ECR::Repository'))[0]!;

    // Act
    const rules = JSON.parse(repo.Properties.LifecyclePolicy.LifecyclePolicyText).rules as {
      selection: { tagStatus: string; countType: string; countNumber: number };
      action: { type: string };
    }[];

    // Assess: every expiring rule selects untagged images only, by age (never "keep the newest N").
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) {
      expect(r.action.type).toBe('expire');
      expect(r.selection).toMatchObject({ tagStatus: 'untagged', countType: 'sinceImagePushed' });
    }
    expect(rules[0]!.selection.countNumber).toBe(14);
  });

  it('keeps untagged images the configured number of days, and refuses less than one', async () => {
    const t = Template.fromStack(await synthEnvironment('core-region', { untaggedImageDays: 30 }));
    const repo = Object.values(t.findResources('AWS::ECR::Repository'))[0]!;
    expect(
      JSON.parse(repo.Properties.LifecyclePolicy.LifecyclePolicyText).rules[0].selection.countNumber,
    ).toBe(30);
    await expect(synthEnvironment('core-region', { untaggedImageDays: 0 })).rejects.toThrow(
      /untaggedImageDays/,
    );
  });
});

describe('environment configs', () => {
  it('loads every shipped environment', () => {
    expect(loadEnvironments().map((e) => `${e.kind}:${e.name}`)).toEqual([
      'core:core-region',
      'child:child-a',
      'child:child-b',
    ]);
  });

  it('fails a bad config with every problem, named by environment and path', () => {
    expect(() =>
      parseEnvironment('bad', {
        kind: 'child',
        name: 'bad',
        account: '12345',
        region: 'eu-west-2',
        image: { from: 'standalone' },
        database: { minAcu: 2, maxAcu: 1, autoPauseSeconds: 300 },
        tasks: {
          small: { cpu: 512, memoryMiB: 512 },
          medium: { cpu: 1024, memoryMiB: 4096 },
          large: { cpu: 4096, memoryMiB: 16384 },
        },
        logRetentionDays: 10,
      }),
    ).toThrow(
      [
        'environment bad: account: must be a 12-digit AWS account id',
        'environment bad: logRetentionDays: must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 days',
        'environment bad: tasks.small.memoryMiB: memoryMiB is not a valid Fargate size for this cpu',
      ].join('\n'),
    );
    expect(() =>
      parseEnvironment('acu', {
        kind: 'child',
        name: 'acu',
        account: '123456789012',
        region: 'eu-west-2',
        image: { from: 'standalone' },
        database: { minAcu: 2, maxAcu: 1, autoPauseSeconds: 300 },
      }),
    ).toThrow('environment acu: database.maxAcu: must be at least minAcu (2)');
    expect(() => loadEnvironments('child-z')).toThrow(
      'unknown environment "child-z"; known: core-region, child-a, child-b',
    );
  });

  it('turns catalog cron into EventBridge cron', () => {
    expect(eventBridgeExpression('0 3 * * *')).toBe('cron(0 3 * * ? *)');
    expect(eventBridgeExpression('30 6 * * 1-5')).toBe('cron(30 6 ? * 1-5 *)');
    expect(eventBridgeExpression('rate(1 day)')).toBe('rate(1 day)');
    expect(() => eventBridgeExpression('* *')).toThrow(/5-field cron/);
  });
});
