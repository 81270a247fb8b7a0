import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { metrics as emitted } from '../../lambdas/shared/observability.ts';
import { alarmWindow } from '../../lib/constructs/observability.ts';
import { MIGRATIONS_TOTAL_TIMEOUT } from '../../lib/constructs/postgis-cluster.ts';
import { IMAGE_EXCLUDES, TASK_PLATFORM } from '../../lib/constructs/task-runner.ts';
import { packCatalog } from '../../runtime/catalog-files/bundle.ts';
import { assetManifest, nagFindings, synthEnvironment } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CORE = '111111111111';
const CHILD_ACCOUNTS = ['222222222222', '333333333333'];

const sortDims = (d: { Name: string; Value: unknown }[]) => [...d].sort((a, b) => (a.Name < b.Name ? -1 : 1));

type Resources = Record<string, { Type: string; Properties: { Handler?: string } }>;
/** Embedded metric format, as Powertools serialises it: dimension names under `_aws`, values beside them. */
type Emf = Record<string, unknown> & { _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] } };

/** Every principal an Allow statement of any policy in the template names, as JSON text. */
function principals(t: Template): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        // A Deny to everyone (queues' and buckets' TLS-only statements) grants nothing.
        if (k === 'Principal' && (v as { Effect?: string }).Effect !== 'Deny') out.push(JSON.stringify(x));
        walk(x);
      }
  };
  walk(t.toJSON().Resources);
  return out;
}

function taskEnvironment(t: Template): Record<string, unknown>[] {
  return Object.values(t.findResources('AWS::ECS::TaskDefinition')).map((d) =>
    Object.fromEntries(
      (d.Properties.ContainerDefinitions[0].Environment as { Name: string; Value: unknown }[]).map((e) => [
        e.Name,
        e.Value,
      ]),
    ),
  );
}

describe('core and two children, as the README deploys them', () => {
  let core: Stack;
  let childA: Stack;
  let childB: Stack;
  let tc: Template;
  let ta: Template;
  let tb: Template;
  beforeAll(async () => {
    core = await synthEnvironment('core-region');
    childA = await synthEnvironment('child-a');
    childB = await synthEnvironment('child-b');
    [tc, ta, tb] = [core, childA, childB].map((s) => Template.fromStack(s)) as [Template, Template, Template];
  });

  it('has no unsuppressed cdk-nag findings in any of the three', () => {
    for (const s of [core, childA, childB]) {
      expect(nagFindings(s, 'error'), s.stackName).toEqual([]);
      expect(nagFindings(s, 'warning'), s.stackName).toEqual([]);
    }
  });

  describe('one platform for the task image', () => {
    it('builds the standalone image for linux/arm64 and runs every task definition on ARM64', () => {
      // Prepare: child-b builds its own image; child-a pulls the core's.
      const images = Object.values(assetManifest(childB).dockerImages);

      // Assess
      expect(images).toHaveLength(1);
      expect(images[0]!.source.platform).toBe('linux/arm64');
      expect(images[0]!.source.dockerFile).toBe('tasks/Dockerfile');
      expect(TASK_PLATFORM.docker).toBe(images[0]!.source.platform);
      for (const t of [ta, tb])
        for (const d of Object.values(t.findResources('AWS::ECS::TaskDefinition')))
          expect(d.Properties.RuntimePlatform).toEqual({
            CpuArchitecture: 'ARM64',
            OperatingSystemFamily: 'LINUX',
          });
    });
  });

  describe('a generic image, and each child its own catalog', () => {
    it('keeps the catalog out of the image', () => {
      const dockerfile = readFileSync(join(ROOT, 'tasks', 'Dockerfile'), 'utf8');
      expect(dockerfile).not.toMatch(/^COPY\s+catalog/m);
      expect(IMAGE_EXCLUDES).toEqual(expect.arrayContaining(['catalog', 'examples']));
      // `docker buildx build` by hand leaves out the same.
      const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
      expect(dockerignore).toEqual(expect.arrayContaining(IMAGE_EXCLUDES));
    });

    it("deploys each child's catalog as an asset named by its sha256, and gives tasks and functions the hash", () => {
      // Prepare: the two children's catalog directories, packed as the stack packs them.
      const expected = {
        'child-a': packCatalog(join(ROOT, 'catalog')).sha256,
        'child-b': packCatalog(join(ROOT, 'examples', 'child-b', 'catalog')).sha256,
      };
      expect(expected['child-a']).not.toBe(expected['child-b']);

      for (const [stack, t, name] of [
        [childA, ta, 'child-a'],
        [childB, tb, 'child-b'],
      ] as const) {
        const sha = expected[name];
        // The asset: one file, whose bytes are the catalog's pack, and hash to what the stack recorded.
        const manifest = assetManifest(stack);
        const packs = Object.values(manifest.files).filter((f) => f.displayName === 'Catalog/Pack');
        expect(packs, name).toHaveLength(1);
        const bytes = readFileSync(join(manifest.dir, packs[0]!.source.path));
        expect(createHash('sha256').update(bytes).digest('hex'), name).toBe(sha);
        const objectKey = Object.values(packs[0]!.destinations)[0]!.objectKey;
        t.hasOutput('CatalogSha256', { Value: sha });
        // Every task definition carries where it is and its hash.
        for (const env of taskEnvironment(t)) {
          expect(env.STRATA_CATALOG_SHA256, name).toBe(sha);
          expect(env.STRATA_CATALOG_KEY, name).toBe(objectKey);
          expect(env.STRATA_CATALOG_BUCKET).toBeDefined();
        }
        // So does every function that reads the catalog: the three triggers and the partner API.
        const readers = Object.values(t.findResources('AWS::Lambda::Function')).filter(
          (f) => f.Properties.Environment?.Variables?.STRATA_CATALOG_SHA256,
        );
        expect(readers.length, name).toBe(4);
        for (const f of readers) expect(f.Properties.Environment.Variables.STRATA_CATALOG_SHA256).toBe(sha);
        // Reading it is allowed on exactly that object.
        const grants = JSON.stringify(t.findResources('AWS::IAM::Policy'));
        expect(grants).toContain(`/${objectKey}`);
      }
    });

    it("makes each child's schedules from its own catalog, with a stale alarm per scheduled product", () => {
      // child-a's catalog (the repository's) schedules nothing; child-b's schedules stops_per_locality.
      expect(
        Object.keys(
          ta.findResources('AWS::Events::Rule', { Properties: { ScheduleExpression: 'cron(0 4 * * ? *)' } }),
        ),
      ).toHaveLength(0);
      tb.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'cron(0 4 * * ? *)',
        Targets: [
          Match.objectLike({
            InputTransformer: Match.objectLike({
              InputTemplate: Match.stringLikeRegexp('"kind":"product","name":"stops_per_locality"'),
            }),
          }),
        ],
      });
      // Daily, plus the default grace of 2 hours: 26 hours, watched in hours (a 5-minute alarm sees a day at most).
      expect(alarmWindow(26 * 3600)).toEqual({ periodSeconds: 3600, periods: 26 });
      tb.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'Strata',
        MetricName: 'ProductPublished',
        Dimensions: Match.arrayEquals([
          { Name: 'product', Value: 'stops_per_locality' },
          { Name: 'service', Value: 'strata' },
        ]),
        Statistic: 'Sum',
        Period: 3600,
        EvaluationPeriods: 26,
        DatapointsToAlarm: 26,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
      });
      expect(
        Object.values(ta.findResources('AWS::CloudWatch::Alarm')).filter(
          (a) => a.Properties.MetricName === 'ProductPublished',
        ),
      ).toHaveLength(0);
    });
  });

  describe('migrations on the Provider framework', () => {
    it('serves Custom::StrataMigrations from a Provider with an isComplete waiter and a total timeout', () => {
      const functions = ta.findResources('AWS::Lambda::Function') as Resources;
      const handlers = Object.entries(functions).map(([id, f]) => [id, f.Properties.Handler]);
      expect(handlers).toEqual(
        expect.arrayContaining([
          [expect.stringMatching(/^DatabaseMigratorFunction/), 'index.onEvent'],
          [expect.stringMatching(/^DatabaseMigrationsApplyFunction/), 'index.isComplete'],
        ]),
      );
      ta.hasResourceProperties('Custom::StrataMigrations', {
        ServiceToken: {
          'Fn::GetAtt': [Match.stringLikeRegexp('^DatabaseMigrationsProviderframeworkonEvent'), 'Arn'],
        },
      });
      // The waiter asks every 15 s until the total timeout: then CloudFormation hears FAILED, not silence.
      const [machine] = Object.values(ta.findResources('AWS::StepFunctions::StateMachine'));
      const definition = JSON.stringify(machine!.Properties.DefinitionString);
      const retry = /\\"IntervalSeconds\\":(\d+),\\"MaxAttempts\\":(\d+),\\"BackoffRate\\":1/.exec(
        definition,
      );
      expect(retry).not.toBeNull();
      expect(Number(retry![1]) * Number(retry![2])).toBe(MIGRATIONS_TOTAL_TIMEOUT.toSeconds());
      expect(machine!.Properties.LoggingConfiguration.Level).toBe('ALL');
    });
  });

  describe('federation across accounts', () => {
    it("lets exactly the configured children's accounts put summaries on the core's bus, and no one else", () => {
      const policies = Object.values(tc.findResources('AWS::Events::EventBusPolicy'));
      const accounts = policies.map(
        (p) => JSON.stringify(p.Properties.Statement.Principal).match(/iam::(\d{12}):root/)![1],
      );
      expect(accounts.sort()).toEqual(CHILD_ACCOUNTS);
      for (const p of policies)
        expect(p.Properties.Statement).toMatchObject({
          Effect: 'Allow',
          Action: 'events:PutEvents',
          Condition: {
            StringEquals: { 'events:source': 'strata', 'events:detail-type': 'ProductPublished' },
          },
        });
      tc.hasResourceProperties('AWS::Events::EventBus', { Name: 'strata-federation' });
      // No wildcard principal anywhere in the core, and the image repository names the same accounts.
      for (const p of principals(tc)) expect(p).not.toMatch(/"\*"/);
      const repo = JSON.stringify(
        Object.values(tc.findResources('AWS::ECR::Repository'))[0]!.Properties.RepositoryPolicyText,
      );
      expect([...repo.matchAll(/iam::(\d{12}):root/g)].map((m) => m[1]).sort()).toEqual(CHILD_ACCOUNTS);
    });

    it('verifies summaries in an intake function and answers status on a function URL with IAM auth', () => {
      tc.hasResourceProperties('AWS::Events::Rule', {
        EventBusName: { Ref: Match.stringLikeRegexp('^FederationBus') },
        EventPattern: { source: ['strata'], 'detail-type': ['ProductPublished'] },
      });
      tc.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM' });
      tc.hasResourceProperties('AWS::DynamoDB::Table', {
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      });
      const intake = Object.values(tc.findResources('AWS::Lambda::Function')).find(
        (f) =>
          f.Properties.Environment?.Variables?.STRATA_CORE_CHILDREN_KEY &&
          /intake/i.test(f.Properties.Description),
      )!;
      // The children are an S3 asset (a variable holds 4 KB, about 30 children), named by its sha256.
      const vars = intake.Properties.Environment.Variables;
      const files = Object.values(assetManifest(core).files);
      const asset = files.find(
        (f) => Object.values(f.destinations)[0]!.objectKey === vars.STRATA_CORE_CHILDREN_KEY,
      )!;
      const text = readFileSync(join(assetManifest(core).dir, asset.source.path), 'utf8');
      expect(createHash('sha256').update(text).digest('hex')).toBe(vars.STRATA_CORE_CHILDREN_SHA256);
      const children = JSON.parse(text);
      expect(children.map((c: { name: string; account: string }) => [c.name, c.account])).toEqual([
        ['child-a', '222222222222'],
        ['child-b', '333333333333'],
      ]);
      tc.hasOutput('CoreStatusUrl', {});
      tc.hasOutput('FederationBusArn', {});
    });

    it("forwards each child's ProductPublished events from its own bus to the core's, and lets tasks sign and put them", () => {
      for (const [t, account] of [
        [ta, '222222222222'],
        [tb, '333333333333'],
      ] as const) {
        t.hasResourceProperties('AWS::Events::Rule', {
          EventPattern: { source: ['strata'], 'detail-type': ['ProductPublished'], account: [account] },
          Targets: [
            Match.objectLike({
              Arn: {
                'Fn::Join': [
                  '',
                  Match.arrayWith([
                    Match.stringLikeRegexp(`events:eu-west-2:${CORE}:event-bus/strata-federation`),
                  ]),
                ],
              },
              RoleArn: Match.anyValue(),
            }),
          ],
        });
        t.hasOutput('FederationKeySecretArn', {});
        const taskPolicy = JSON.stringify(
          Object.entries(t.findResources('AWS::IAM::Policy')).find(([id]) =>
            id.startsWith('TasksTaskRole'),
          )![1],
        );
        expect(taskPolicy).toContain('events:PutEvents');
        expect(taskPolicy).toContain(':event-bus/default');
        expect(taskPolicy).toMatch(/FederationKeySecret/);
        for (const env of taskEnvironment(t)) {
          expect(env.STRATA_CHILD_NAME).toBe(account === '222222222222' ? 'child-a' : 'child-b');
          expect(env.STRATA_FEDERATION_BUS).toBe('default');
          expect(env.STRATA_FEDERATION_KEY_SECRET_ARN).toEqual({
            Ref: expect.stringMatching(/^FederationKeySecret/),
          });
        }
      }
    });
  });

  describe('what a run is priced from', () => {
    it("gives each task definition its own size and the cluster's capacity", () => {
      const sizes = taskEnvironment(ta).map((e) => JSON.parse(String(e.STRATA_TASK_SIZE)));
      expect(sizes).toEqual([
        { size: 'small', cpu: 512, memoryMiB: 1024 },
        { size: 'medium', cpu: 1024, memoryMiB: 4096, ephemeralStorageGiB: 50 },
        { size: 'large', cpu: 4096, memoryMiB: 16384, ephemeralStorageGiB: 100 },
      ]);
      expect(JSON.parse(String(taskEnvironment(tb)[0]!.STRATA_DB_CAPACITY))).toEqual({
        minAcu: 0,
        maxAcu: 8,
        autoPauseSeconds: 900,
      });
    });
  });

  describe('operations: alarms and dashboards', () => {
    it('alarms on failed runs with exactly the dimensions Powertools emits', () => {
      // Prepare: what the functions' Metrics instance writes for RunsFailed, and for a per-product metric.
      emitted.addMetric('RunsFailed', MetricUnit.Count, 1);
      const plain = emitted.serializeMetrics() as unknown as Emf;
      emitted.clearMetrics();
      emitted.addDimension('product', 'stops_per_locality');
      emitted.addMetric('ProductPublished', MetricUnit.Count, 1);
      const perProduct = emitted.serializeMetrics() as unknown as Emf;
      emitted.clearMetrics();
      emitted.clearDimensions();
      const dims = (emf: Emf) =>
        emf._aws.CloudWatchMetrics[0]!.Dimensions[0]!.map((n) => ({ Name: n, Value: emf[n] }));

      // Assess: the alarms watch those sets exactly (CloudWatch matches the whole set, in any order).
      const alarmDims = (t: Template, metricName: string) =>
        Object.values(t.findResources('AWS::CloudWatch::Alarm'))
          .filter((a) => a.Properties.MetricName === metricName)
          .map((a) => sortDims(a.Properties.Dimensions));
      expect(alarmDims(ta, 'RunsFailed')).toEqual([sortDims(dims(plain))]);
      expect(alarmDims(tb, 'ProductPublished')).toEqual([sortDims(dims(perProduct))]);
    });

    it('gives each child one dashboard: runs by status, task seconds, queue and DLQ depth, Aurora ACU and wake-ups', () => {
      for (const t of [ta, tb]) {
        const dashboards = Object.values(t.findResources('AWS::CloudWatch::Dashboard'));
        expect(dashboards).toHaveLength(1);
        const body = JSON.stringify(dashboards[0]!.Properties.DashboardBody);
        for (const name of ['RunsQueued', 'RunsSucceeded', 'RunsFailed', 'RunsInterrupted'])
          expect(body).toContain(`\\"${name}\\",\\"service\\",\\"strata\\"`);
        expect(body).toContain('TaskCount');
        expect(body).toContain('tasks * PERIOD(tasks)');
        expect(body.match(/ApproximateNumberOfMessagesVisible/g)?.length).toBeGreaterThanOrEqual(2);
        expect(body).toContain('ServerlessDatabaseCapacity');
        expect(body).toContain('IF(DIFF(IF(FILL(acu, 0) > 0, 1, 0)) > 0, 1, 0)');
      }
    });
  });

  describe('the deploy page, step by step', () => {
    const readme = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('## Deploy to AWS'),
      readme.indexOf('\n## ', readme.indexOf('## Deploy to AWS') + 5),
    );
    const stacks = () => ({ 'core-region': tc, 'child-a': ta, 'child-b': tb }) as Record<string, Template>;

    it('deploys stacks that exist, with the accounts and regions of their environments', () => {
      const deploys = [...section.matchAll(/cdk deploy -c env=([a-z-]+) (\S+)/g)].map((m) => [m[1], m[2]]);
      expect(deploys).toEqual([
        ['core-region', 'strata-core-region'],
        ['child-a', 'strata-child-a'],
        ['child-b', 'strata-child-b'],
      ]);
      expect([core, childA, childB].map((s) => s.stackName)).toEqual(deploys.map(([, id]) => id));
      const boots = [
        ...section.matchAll(/cdk bootstrap aws:\/\/(\d{12})\/([a-z0-9-]+)(.*(?:\n.*--cloudformation.*)?)/g),
      ];
      expect(boots.map((m) => [m[1], m[2]])).toEqual(
        [core, childA, childB].map((s) => [s.account, s.region]),
      );
      // Children trust the core account, the one that deploys them.
      for (const m of boots.slice(1)) expect(m[3]).toContain(`--trust ${core.account}`);
      for (const e of section.matchAll(/cdk synth -c env=([a-z-]+)/g))
        expect(Object.keys(stacks())).toContain(e[1]);
      expect(core.account).toBe(CORE);
    });

    it('names only outputs the stacks have', () => {
      const named = new Set(
        [...section.matchAll(/[`<]([A-Z][A-Za-z0-9]+(?:Arn|Url|Uri|Sha256))[`>]/g)].map((m) => m[1]!),
      );
      expect([...named].sort()).toEqual([
        'CatalogSha256',
        'CoreStatusUrl',
        'FederationBusArn',
        'FederationKeySecretArn',
        'RepositoryUri',
      ]);
      const outputs = Object.values(stacks()).flatMap((t) => Object.keys(t.toJSON().Outputs ?? {}));
      for (const n of named) expect(outputs, n).toContain(n);
    });

    it('builds the image for the platform the tasks run on, and pushes it where child-a pulls from', () => {
      const build =
        /docker buildx build --platform (\S+) --provenance=false -f (\S+) \\\n\s+-t (\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com\/([a-z-]+):(\S+) --push \./.exec(
          section,
        );
      expect(build).not.toBeNull();
      const [, platform, dockerfile, account, region, repository, tag] = build!;
      expect(platform).toBe(TASK_PLATFORM.docker);
      expect(Object.values(assetManifest(childB).dockerImages)[0]!.source.platform).toBe(platform);
      expect(readFileSync(join(ROOT, dockerfile!), 'utf8')).toMatch(/^FROM /m);
      const image = JSON.stringify(
        Object.values(ta.findResources('AWS::ECS::TaskDefinition'))[0]!.Properties.ContainerDefinitions[0]
          .Image,
      );
      expect(image).toContain(`${account}.dkr.ecr.${region}.`);
      expect(image).toContain(`/${repository}:${tag}`);
    });

    it('deploys each child with the catalog the section says, and names commands the CLI has', () => {
      const catalogs: Record<string, string> = Object.fromEntries(
        [...section.matchAll(/cdk deploy -c env=(child-[a-z]) \S+\s+# catalog: (\S+)/g)].map((m) => [
          m[1]!,
          m[2]!.replace(/\/$/, ''),
        ]),
      );
      expect(catalogs).toEqual({ 'child-a': 'catalog', 'child-b': 'examples/child-b/catalog' });
      for (const [name, dir] of Object.entries(catalogs))
        stacks()[name]!.hasOutput('CatalogSha256', { Value: packCatalog(join(ROOT, dir)).sha256 });
      const commands = new Set([...section.matchAll(/npx strata ((?:core )?[a-z]+)/g)].map((m) => m[1]!));
      expect([...commands].sort()).toEqual(['core pubkey', 'core status', 'smoke']);
      for (const c of commands) {
        const help = spawnSync('node', ['bin/strata.mjs', ...c.split(' '), '--help'], {
          cwd: ROOT,
          encoding: 'utf8',
        });
        expect(help.status, `${c}: ${help.stderr}`).toBe(0);
      }
    });
  });
});
