import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { metrics as lambdaMetrics } from '../../lambdas/shared/observability.ts';
import { LAMBDA_BUNDLING } from '../../lib/constructs/strata-function.ts';
import { METRIC, recordRunEnd } from '../../runtime/aws/metrics.ts';
import { ENV, METRICS_NAMESPACE } from '../../runtime/aws/names.ts';
import { STACK_OUTPUT } from '../../runtime/aws/stack-outputs.ts';
import type { Run } from '../../runtime/runs/schema.ts';
import { nagFindings, synthEnvironment } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..', '..');
/** CloudFormation's JSON, walked by path. */
// biome-ignore lint/suspicious/noExplicitAny: template JSON is untyped; each use checks what it reads.
type Json = any;
type Resource = { Type: string; Properties: Record<string, Json> };
type Resources = Record<string, Resource>;

/** A metric as CloudWatch matches it: namespace, name, and the set of dimension names. */
const key = (namespace: string, name: string, dimensions: readonly string[]) =>
  `${namespace} ${name} {${[...dimensions].sort().join(',')}}`;

/**
 * What AWS publishes that Strata's alarms may watch, with the dimension each is published under and the type
 * of resource its value must name (CloudWatch would accept any name, and never see a datapoint).
 */
const AWS_PUBLISHED: Record<string, { dimension: string; resourceType: string }> = {
  [key('AWS/SQS', 'ApproximateNumberOfMessagesVisible', ['QueueName'])]: {
    dimension: 'QueueName',
    resourceType: 'AWS::SQS::Queue',
  },
  [key('AWS/SQS', 'NumberOfMessagesReceived', ['QueueName'])]: {
    dimension: 'QueueName',
    resourceType: 'AWS::SQS::Queue',
  },
  [key('AWS/Lambda', 'Errors', ['FunctionName'])]: {
    dimension: 'FunctionName',
    resourceType: 'AWS::Lambda::Function',
  },
};

/** Powertools' EMF records, as the code writes them: each metric with its dimension set. */
function emfKeys(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const emf = JSON.parse(line) as {
      _aws: {
        CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
      };
    };
    for (const d of emf._aws.CloudWatchMetrics)
      for (const m of d.Metrics) for (const dims of d.Dimensions) out.push(key(d.Namespace, m.Name, dims));
  }
  return out;
}

/** What `fn` writes to stdout (Powertools writes EMF there through a console of its own), line by line. */
function captureStdout(fn: () => void): string[] {
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    fn();
  } finally {
    process.stdout.write = write;
  }
  return chunks
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'));
}

/**
 * The metrics the functions emit, derived from the code: every `addMetric(<name>` in a handler (a METRIC
 * constant or a literal), with the dimension Powertools adds, and what `recordRunEnd` (which every function's
 * run registry calls) writes for the run ends a function reaches. CloudWatch extracts EMF from Lambda logs
 * by itself.
 */
function lambdaEmitted(): Set<string> {
  const names = new Set<string>();
  for (const dir of readdirSync(join(ROOT, 'lambdas'))) {
    const file = join(ROOT, 'lambdas', dir, 'handler.ts');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const m of text.matchAll(/addMetric\(\s*(?:METRIC\.(\w+)|'(\w+)')/g)) {
      const name = m[1] ? METRIC[m[1] as keyof typeof METRIC] : m[2];
      expect(name, `${file}: ${m[0]}`).toBeDefined();
      names.add(name!);
    }
  }
  const lines = captureStdout(() => {
    for (const n of names) lambdaMetrics.addMetric(n, MetricUnit.Count, 1);
    lambdaMetrics.publishStoredMetrics();
    // Functions fail runs (dead letters, the reconciler) and interrupt them; a build succeeds only in a task.
    for (const status of ['failed', 'interrupted'] as const) {
      recordRunEnd(lambdaMetrics, { status, kind: 'build', target: 'p', result: null } as unknown as Run);
      lambdaMetrics.publishStoredMetrics();
    }
  });
  return new Set(emfKeys(lines));
}

/** What the template's metric filters publish (the tasks' metrics, taken from their logs). */
function filterEmitted(t: Template): Set<string> {
  const out = new Set<string>();
  for (const f of Object.values(t.findResources('AWS::Logs::MetricFilter')))
    for (const m of f.Properties.MetricTransformations as {
      MetricNamespace: string;
      MetricName: string;
      Dimensions?: { Key: string }[];
    }[])
      out.add(
        key(
          m.MetricNamespace,
          m.MetricName,
          (m.Dimensions ?? []).map((d) => d.Key),
        ),
      );
  return out;
}

/** Every alarm whose metric nothing emits or publishes with those dimensions, as `alarm: metric` lines. */
function unwatchable(t: Template, emitted: Set<string>): string[] {
  const resources = t.toJSON().Resources as Resources;
  const problems: string[] = [];
  for (const [id, alarm] of Object.entries(resources)) {
    if (alarm.Type !== 'AWS::CloudWatch::Alarm') continue;
    const p = alarm.Properties;
    const stats: {
      Namespace: string;
      MetricName: string;
      Dimensions?: { Name: string; Value: unknown }[];
    }[] = p.Metrics
      ? (p.Metrics as { MetricStat?: { Metric: Json } }[]).flatMap((m) =>
          m.MetricStat ? [m.MetricStat.Metric] : [],
        )
      : [p];
    for (const s of stats) {
      const dims = s.Dimensions ?? [];
      const k = key(
        s.Namespace,
        s.MetricName,
        dims.map((d) => d.Name),
      );
      const published = AWS_PUBLISHED[k];
      if (published) {
        const value = dims.find((d) => d.Name === published.dimension)!.Value as Record<string, unknown>;
        const ref = (value.Ref as string | undefined) ?? (value['Fn::GetAtt'] as string[] | undefined)?.[0];
        if (!ref || resources[ref]?.Type !== published.resourceType)
          problems.push(`${id}: ${k} names ${JSON.stringify(value)}, not a ${published.resourceType}`);
      } else if (!emitted.has(k)) problems.push(`${id}: ${k}`);
    }
  }
  return problems;
}

describe('the templates: no dropped trigger, no alarm that cannot fire, pinned SDK, least grants', () => {
  let core: Stack;
  let childA: Stack;
  let childB: Stack;
  let tc: Template;
  let ta: Template;
  let tb: Template;
  beforeAll(async () => {
    core = await synthEnvironment('core-region');
    childA = await synthEnvironment('child-a');
    childB = await synthEnvironment('child-b', { network: { mode: 'endpoints', maxAzs: 2 } });
    [tc, ta, tb] = [core, childA, childB].map((s) => Template.fromStack(s)) as [Template, Template, Template];
  });

  it('keeps cdk-nag at zero unsuppressed findings in every stack', () => {
    for (const s of [core, childA, childB]) {
      expect(nagFindings(s, 'error'), s.stackName).toEqual([]);
      expect(nagFindings(s, 'warning'), s.stackName).toEqual([]);
    }
  });

  it('outputs what `strata db rebuild --aws` starts its task with, the same as the dispatcher starts a job with', () => {
    const outputs = ta.findOutputs('*');
    const resources: Resources = ta.toJSON().Resources;
    const dispatcher = Object.values(resources).find(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.[ENV.taskDefinitions],
    );
    const env = dispatcher?.Properties.Environment.Variables as Record<string, Json>;
    expect(outputs[STACK_OUTPUT.taskSubnets]?.Value).toEqual(env[ENV.taskSubnets]);
    expect(outputs[STACK_OUTPUT.taskSecurityGroup]?.Value).toEqual(env[ENV.taskSecurityGroup]);
    expect(outputs[STACK_OUTPUT.taskPublicIp]?.Value).toEqual(env[ENV.taskAssignPublicIp]);
    expect(outputs[STACK_OUTPUT.taskClusterArn]?.Value).toEqual(env[ENV.ecsCluster]);
    // The large definition, as the dispatcher's map names it for large jobs.
    const large = outputs[STACK_OUTPUT.largeTaskDefinition]?.Value as { Ref: string };
    expect(resources[large.Ref]?.Type).toBe('AWS::ECS::TaskDefinition');
    const parts = env[ENV.taskDefinitions]['Fn::Join'][1] as Json[];
    const at = parts.findIndex((x) => typeof x === 'string' && x.endsWith('"large":"'));
    expect(parts[at + 1]).toEqual({ Ref: large.Ref });
  });

  describe('no trigger event is dropped silently', () => {
    it('gives every EventBridge target a dead-letter queue (encrypted, TLS-only) with an alarm, and a retry policy to Lambda targets', () => {
      for (const t of [tc, ta, tb]) {
        const resources = t.toJSON().Resources as Resources;
        const rules = Object.values(resources).filter((r) => r.Type === 'AWS::Events::Rule');
        expect(rules.length).toBeGreaterThan(0);
        for (const rule of rules)
          for (const target of rule.Properties.Targets as Record<string, Json>[]) {
            const queue = target.DeadLetterConfig?.Arn?.['Fn::GetAtt']?.[0] as string | undefined;
            expect(queue, `${rule.Properties.Description}: no dead-letter queue`).toBeDefined();
            expect(resources[queue!]!.Properties).toMatchObject({ SqsManagedSseEnabled: true });
            const policy = Object.values(resources).find(
              (r) =>
                r.Type === 'AWS::SQS::QueuePolicy' &&
                JSON.stringify(r.Properties.Queues).includes(`"${queue}"`),
            );
            expect(JSON.stringify(policy?.Properties.PolicyDocument)).toContain('aws:SecureTransport');
            const alarmed = Object.values(resources).some(
              (r) =>
                r.Type === 'AWS::CloudWatch::Alarm' &&
                JSON.stringify(r.Properties.Dimensions ?? []).includes(`"${queue}"`),
            );
            expect(alarmed, `${rule.Properties.Description}: no alarm on its dead-letter queue`).toBe(true);
            const fn = target.Arn?.['Fn::GetAtt']?.[0] as string | undefined;
            if (fn && resources[fn]?.Type === 'AWS::Lambda::Function') {
              expect(target.RetryPolicy.MaximumRetryAttempts).toBeGreaterThanOrEqual(1);
              expect(target.RetryPolicy.MaximumEventAgeInSeconds).toBeLessThanOrEqual(7200);
              // An event Lambda accepted whose invocations all failed goes to the same queue.
              expect(resources[fn]!.Properties.DeadLetterConfig?.TargetArn?.['Fn::GetAtt']?.[0]).toBe(queue);
            }
          }
      }
    });
  });

  describe('every alarm can fire', () => {
    it('alarms on dead letters the DeadLetter function receives, not on a depth it keeps at zero', () => {
      ta.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmDescription: Match.stringLikeRegexp('reached the dead-letter queue'),
        Namespace: 'AWS/SQS',
        MetricName: 'NumberOfMessagesReceived',
        Statistic: 'Sum',
      });
    });

    it('watches only metrics AWS publishes or the code emits, with the dimensions they carry', () => {
      const fromLambdas = lambdaEmitted();
      expect(fromLambdas).toContain(key(METRICS_NAMESPACE, METRIC.runsFailed, ['service']));
      for (const t of [tc, ta, tb]) {
        const emitted = new Set([...fromLambdas, ...filterEmitted(t)]);
        expect(unwatchable(t, emitted)).toEqual([]);
      }
      // The stale alarms watch a metric only tasks emit: a metric filter must publish it.
      expect(filterEmitted(tb)).toContain(
        key(METRICS_NAMESPACE, METRIC.productPublished, ['product', 'service']),
      );
    });

    it('names an alarm nothing would ever feed, and one on a metric published for another kind of resource', () => {
      // Prepare: the child's template with one alarm renamed and one pointed at a bucket.
      const json = ta.toJSON() as { Resources: Resources };
      const alarms = Object.entries(json.Resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
      const strata = alarms.find(([, r]) => r.Properties.MetricName === METRIC.runsFailed)!;
      const queue = alarms.find(([, r]) => r.Properties.Namespace === 'AWS/SQS')!;
      const bucket = Object.keys(json.Resources).find((k) => json.Resources[k]!.Type === 'AWS::S3::Bucket')!;
      strata[1].Properties.MetricName = 'RunsFailedd';
      queue[1].Properties.Dimensions = [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [bucket, 'Arn'] } }];

      // Act
      const problems = unwatchable(Template.fromJSON(json), lambdaEmitted());

      // Assess
      expect(problems).toContain(`${strata[0]}: Strata RunsFailedd {service}`);
      expect(problems.some((p) => p.startsWith(`${queue[0]}:`) && p.includes('not a AWS::SQS::Queue'))).toBe(
        true,
      );
    });

    it('takes the tasks metrics from their logs, one record per run end, with the alarms dimensions', () => {
      // Prepare: what a task writes when a build succeeds (Powertools EMF on stdout).
      const lines = captureStdout(() => {
        recordRunEnd(lambdaMetrics, {
          status: 'succeeded',
          kind: 'build',
          target: 'p',
          result: {},
        } as unknown as Run);
        lambdaMetrics.publishStoredMetrics();
      });
      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);

      // Act: which records each filter's pattern (every field it requires exists) takes.
      const filters = Object.values(tb.findResources('AWS::Logs::MetricFilter'));
      const taken = (pattern: string) => {
        const fields = [...pattern.matchAll(/\$\.(\w+) (?:= "\*"|>= 0)/g)].map((m) => m[1]!);
        expect(fields.length).toBeGreaterThan(0);
        return records.filter((r) => fields.every((f) => f in r));
      };

      // Assess
      for (const f of filters) {
        const matched = taken(f.Properties.FilterPattern as string);
        const name = f.Properties.MetricTransformations[0].MetricName as string;
        if (name === METRIC.runsSucceeded || name === METRIC.productPublished)
          expect(matched, name).toHaveLength(1);
      }
    });
  });

  describe('the functions run the SDK package.json pins, and no source map at start', () => {
    it('leaves no module to the runtime, and loads no source map at start', async () => {
      expect(LAMBDA_BUNDLING.externalModules).toEqual([]);
      for (const t of [tc, ta]) {
        const fns = Object.values(t.findResources('AWS::Lambda::Function')).filter(
          (f) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'strata',
        );
        expect(fns.length).toBeGreaterThan(0);
        for (const f of fns) {
          expect(f.Properties.Runtime).toBe('nodejs22.x');
          expect(f.Properties.Environment.Variables.NODE_OPTIONS).toBeUndefined();
        }
      }
      // Prepare: the partner API's bundle, made with the functions' options.
      const out = await build({
        entryPoints: [join(ROOT, 'lambdas/partner-api/handler.ts')],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: LAMBDA_BUNDLING.target,
        external: [...LAMBDA_BUNDLING.externalModules],
        write: false,
        metafile: true,
        logLevel: 'silent',
      });
      const inputs = Object.keys(out.metafile.inputs);
      for (const pkg of ['@aws-sdk/lib-storage', '@aws-sdk/s3-request-presigner', '@aws-sdk/client-s3'])
        expect(
          inputs.some((i) => i.includes(`node_modules/${pkg}/`)),
          pkg,
        ).toBe(true);
    });
  });

  describe('grants, federation endpoints, the account-wide role and webhook methods kept to what is used', () => {
    const policyOf = (t: Template, description: RegExp) => {
      const resources = t.toJSON().Resources as Resources;
      const fn = Object.values(resources).find(
        (r) => r.Type === 'AWS::Lambda::Function' && description.test(r.Properties.Description ?? ''),
      )!;
      const role = fn.Properties.Role['Fn::GetAtt'][0] as string;
      return JSON.stringify(
        Object.values(resources)
          .filter(
            (r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(`"${role}"`),
          )
          .map((r) => r.Properties.PolicyDocument),
      );
    };

    it('lets the reconciler count and stop tasks but not start them or pass their roles', () => {
      const reconciler = policyOf(ta, /^Marks runs whose task died/);
      expect(reconciler).toContain('ecs:StopTask');
      expect(reconciler).not.toContain('ecs:RunTask');
      expect(reconciler).not.toContain('iam:PassRole');
      const dispatcher = policyOf(ta, /^SQS jobs/);
      expect(dispatcher).toContain('ecs:RunTask');
      expect(dispatcher).toContain('iam:PassRole');
    });

    it('grants tasks exactly the writes the object store makes, and no database login nothing creates', () => {
      const resources = ta.toJSON().Resources as Resources;
      const taskRole = Object.keys(resources).find(
        (k) => k.startsWith('TasksTaskRole') && resources[k]!.Type === 'AWS::IAM::Role',
      )!;
      const policy = JSON.stringify(
        Object.values(resources)
          .filter(
            (r) =>
              r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(`"${taskRole}"`),
          )
          .map((r) => r.Properties.PolicyDocument),
      );
      for (const unused of [
        'PutObjectLegalHold',
        'PutObjectRetention',
        'PutObjectTagging',
        'PutObjectVersionTagging',
        'rds-db:connect',
      ])
        expect(policy).not.toContain(unused);
      expect(policy).toContain('"s3:PutObject"');
      expect(policy).toContain('s3:AbortMultipartUpload');
    });

    it('gives a federated child in endpoints mode an EventBridge endpoint for its summaries', () => {
      const endpoints = Object.values(tb.findResources('AWS::EC2::VPCEndpoint')).map((e) =>
        JSON.stringify(e.Properties.ServiceName),
      );
      expect(endpoints.some((s) => s.includes('.events'))).toBe(true);
      expect(endpoints.some((s) => s.includes('.sqs'))).toBe(true);
    });

    it("makes API Gateway's account-wide role only where the config asks", () => {
      expect(Object.keys(ta.findResources('AWS::ApiGateway::Account'))).toHaveLength(1);
      expect(Object.keys(tb.findResources('AWS::ApiGateway::Account'))).toHaveLength(0);
    });

    it('answers any method but POST on a webhook with 405 and Allow: POST', () => {
      tb.hasResourceProperties('AWS::ApiGateway::Method', {
        HttpMethod: 'ANY',
        Integration: {
          Type: 'MOCK',
          IntegrationResponses: [
            Match.objectLike({
              StatusCode: '405',
              ResponseParameters: { 'method.response.header.Allow': "'POST'" },
            }),
          ],
        },
        MethodResponses: [Match.objectLike({ StatusCode: '405' })],
      });
    });
  });
});
