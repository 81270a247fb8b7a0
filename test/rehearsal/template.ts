// The deployed artefacts of one environment, as `cdk synth` makes them: the template with every intrinsic
// resolved to deterministic fake physical names, and for each Strata function its bundle (the asset
// directory CDK's esbuild bundling wrote), its environment and its role's policy statements.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { addEnvironments, childCatalogs } from '../../lib/app-builder.ts';
import { ENVIRONMENTS, parseEnvironment } from '../../lib/config/environments.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export interface Resource {
  Type: string;
  Properties?: Record<string, Json>;
}
export interface Template {
  Resources: Record<string, Resource>;
}

/** Where fake names point: the loopback endpoints the rehearsal starts before it resolves anything. */
export interface ResolveContext {
  readonly account: string;
  readonly region: string;
  readonly stackName: string;
  /** The recording endpoint's origin: SQS queue URLs are used as the endpoint by the SDK, so they point here. */
  readonly endpoint: string;
  /** Where the database cluster's endpoint resolves to (the TLS proxy in front of PostgreSQL). */
  readonly database: { host: string; port: number };
}

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
  /** Which template resource the statement came from, for messages. */
  Source: string;
  Sid?: string;
}

export interface FunctionArtefact {
  /** The construct id, e.g. `TriggersDispatcher`, derived from the logical id. */
  readonly name: string;
  readonly logicalId: string;
  readonly physicalName: string;
  readonly arn: string;
  /** The bundle as the template ships it: `<cdk.out>/asset.<hash>/index.mjs`. */
  readonly bundle: string;
  readonly handler: string;
  readonly timeout: number;
  readonly environment: Record<string, string>;
  readonly roleArn: string;
  readonly roleLogicalId: string;
}

/** Synthesizes one environment with real bundling into `outdir`, and returns the template and the assets' directory. */
export async function synthesize(environment: string, outdir: string): Promise<Template> {
  mkdirSync(outdir, { recursive: true });
  const stackName = `strata-${environment}`;
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [stackName] } });
  const envs = [parseEnvironment(environment, ENVIRONMENTS[environment] as Record<string, unknown>)];
  addEnvironments(app, envs, await childCatalogs(envs));
  app.synth();
  return JSON.parse(readFileSync(join(outdir, `${stackName}.template.json`), 'utf8')) as Template;
}

const short = (s: string, n = 8) => createHash('sha256').update(s).digest('hex').slice(0, n);

/**
 * Resolves `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split` and the pseudo parameters to
 * fake physical values made from the logical id, the same each time, so an environment variable and a policy
 * that name the same resource name the same string.
 */
export class Resolver {
  constructor(
    readonly template: Template,
    readonly ctx: ResolveContext,
  ) {}

  /** The physical name of a resource: lower-case, bucket-safe, unique in the stack. */
  name(id: string): string {
    return `${this.ctx.stackName}-${id}`.toLowerCase().slice(0, 63);
  }

  private arn(service: string, resource: string, region = this.ctx.region): string {
    return `arn:aws:${service}:${region}:${this.ctx.account}:${resource}`;
  }

  ref(id: string): string {
    const c = this.ctx;
    if (id === 'AWS::Partition') return 'aws';
    if (id === 'AWS::Region') return c.region;
    if (id === 'AWS::AccountId') return c.account;
    if (id === 'AWS::URLSuffix') return 'amazonaws.com';
    if (id === 'AWS::StackName') return c.stackName;
    const r = this.template.Resources[id];
    if (!r) throw new Error(`Ref to ${id}: no such resource or parameter in the template`);
    const name = this.name(id);
    switch (r.Type) {
      case 'AWS::SQS::Queue':
        return `${c.endpoint}/${c.account}/${name}`;
      case 'AWS::ECS::TaskDefinition':
        return this.arn('ecs', `task-definition/${this.family(id)}:1`);
      case 'AWS::SecretsManager::Secret':
        return this.arn('secretsmanager', `secret:${name}-${short(id, 6)}`);
      case 'AWS::SNS::Topic':
      case 'AWS::StepFunctions::StateMachine':
        return this.arn(r.Type === 'AWS::SNS::Topic' ? 'sns' : 'states', name);
      case 'AWS::EC2::Subnet':
        return `subnet-${short(id, 17)}`;
      case 'AWS::EC2::VPC':
        return `vpc-${short(id, 17)}`;
      case 'AWS::EC2::SecurityGroup':
        return `sg-${short(id, 17)}`;
      default:
        return name;
    }
  }

  family(id: string): string {
    const f = this.template.Resources[id]?.Properties?.Family;
    return typeof f === 'string' ? f : this.name(id);
  }

  getAtt(id: string, attr: string): string {
    const r = this.template.Resources[id];
    if (!r) throw new Error(`Fn::GetAtt of ${id}.${attr}: no such resource in the template`);
    const name = this.name(id);
    const key = `${r.Type}.${attr}`;
    switch (key) {
      case 'AWS::S3::Bucket.Arn':
        return `arn:aws:s3:::${name}`;
      case 'AWS::SQS::Queue.Arn':
        return this.arn('sqs', name);
      case 'AWS::SQS::Queue.QueueName':
        return name;
      case 'AWS::SQS::Queue.QueueUrl':
        return this.ref(id);
      case 'AWS::ECS::Cluster.Arn':
        return this.arn('ecs', `cluster/${name}`);
      case 'AWS::IAM::Role.Arn':
        return `arn:aws:iam::${this.ctx.account}:role/${name}`;
      case 'AWS::Lambda::Function.Arn':
        return this.arn('lambda', `function:${name}`);
      case 'AWS::DynamoDB::Table.Arn':
        return this.arn('dynamodb', `table/${name}`);
      case 'AWS::Logs::LogGroup.Arn':
        return this.arn('logs', `log-group:${name}:*`);
      case 'AWS::Events::EventBus.Arn':
        return this.arn('events', `event-bus/${name}`);
      case 'AWS::Events::Rule.Arn':
        return this.arn('events', `rule/${name}`);
      case 'AWS::RDS::DBCluster.MasterUserSecret.SecretArn':
        return this.arn('secretsmanager', `secret:rds!cluster-${short(id)}-${short(id, 6)}`);
      case 'AWS::RDS::DBCluster.Endpoint.Address':
      case 'AWS::RDS::DBCluster.ReadEndpoint.Address':
        return this.ctx.database.host;
      case 'AWS::RDS::DBCluster.Endpoint.Port':
        return String(this.ctx.database.port);
      case 'AWS::RDS::DBCluster.DBClusterResourceId':
        return `cluster-${short(id, 26).toUpperCase()}`;
      case 'AWS::RDS::DBCluster.DBClusterArn':
        return this.arn('rds', `cluster:${name}`);
      case 'AWS::EC2::SecurityGroup.GroupId':
        return this.ref(id);
      case 'AWS::KMS::Key.Arn':
        return this.arn('kms', `key/${short(id, 32)}`);
      default:
        if (attr === 'Arn') return this.arn(r.Type.split('::')[1]!.toLowerCase(), name);
        return `${name}-${attr.toLowerCase()}`;
    }
  }

  resolve(v: Json): Json {
    if (Array.isArray(v)) return v.map((x) => this.resolve(x));
    if (!v || typeof v !== 'object') return v;
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const k = keys[0]!;
      const a = v[k]!;
      if (k === 'Ref') return this.ref(a as string);
      if (k === 'Fn::GetAtt') {
        const [id, ...attr] = Array.isArray(a) ? (a as string[]) : (a as string).split('.');
        return this.getAtt(id!, attr.join('.'));
      }
      if (k === 'Fn::Join') {
        const [sep, parts] = a as [string, Json[]];
        return (this.resolve(parts) as string[]).join(sep);
      }
      if (k === 'Fn::Select') {
        const [i, list] = a as [number | string, Json];
        return (this.resolve(list) as Json[])[Number(i)]!;
      }
      if (k === 'Fn::Split') {
        const [sep, s] = a as [string, Json];
        return (this.resolve(s) as string).split(sep);
      }
      if (k === 'Fn::Sub') {
        const [text, vars] = Array.isArray(a) ? (a as [string, Record<string, Json>]) : [a as string, {}];
        return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
          if (vars[name] !== undefined) return String(this.resolve(vars[name]!));
          const [id, ...attr] = name.split('.');
          return attr.length ? this.getAtt(id!, attr.join('.')) : this.ref(id!);
        });
      }
      if (k.startsWith('Fn::'))
        throw new Error(`${k} is not resolved by the rehearsal: ${JSON.stringify(v)}`);
    }
    return Object.fromEntries(Object.entries(v).map(([key, x]) => [key, this.resolve(x)]));
  }

  /** The Strata functions (those CDK bundled with esbuild from `lambdas/`), with what they run with. */
  functions(outdir: string): FunctionArtefact[] {
    const out: FunctionArtefact[] = [];
    for (const [id, r] of Object.entries(this.template.Resources)) {
      if (r.Type !== 'AWS::Lambda::Function') continue;
      const p = r.Properties!;
      const vars = (p.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables ?? {};
      if (vars.POWERTOOLS_SERVICE_NAME !== 'strata') continue;
      const key = String((p.Code as { S3Key: string }).S3Key).replace(/\.zip$/, '');
      const roleLogicalId = (p.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
      out.push({
        name: id.replace(/Function[0-9A-F]{8}$/, ''),
        logicalId: id,
        physicalName: this.ref(id),
        arn: this.getAtt(id, 'Arn'),
        bundle: join(outdir, `asset.${key}`, 'index.mjs'),
        handler: String(p.Handler).replace(/^index\./, ''),
        timeout: Number(p.Timeout ?? 3),
        environment: this.resolve(vars) as Record<string, string>,
        roleArn: this.getAtt(roleLogicalId, 'Arn'),
        roleLogicalId,
      });
    }
    return out;
  }

  /** Every statement of a role's identity policies: inline, `AWS::IAM::Policy` and customer managed ones. */
  roleStatements(roleLogicalId: string): Statement[] {
    const out: Statement[] = [];
    const add = (doc: Json, source: string) => {
      const statements = (this.resolve(doc) as { Statement: Json }).Statement;
      for (const s of Array.isArray(statements) ? statements : [statements])
        out.push({ ...(s as object), Source: source } as Statement);
    };
    const refersToRole = (list: Json | undefined) =>
      Array.isArray(list) && list.some((x) => (x as { Ref?: string })?.Ref === roleLogicalId);
    const role = this.template.Resources[roleLogicalId];
    if (!role) throw new Error(`no role ${roleLogicalId} in the template`);
    for (const p of (role.Properties?.Policies as { PolicyDocument: Json; PolicyName: string }[]) ?? [])
      add(p.PolicyDocument, `${roleLogicalId}/${p.PolicyName}`);
    for (const [id, r] of Object.entries(this.template.Resources)) {
      if (
        (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') &&
        refersToRole(r.Properties?.Roles)
      )
        add(r.Properties!.PolicyDocument!, id);
    }
    for (const m of (role.Properties?.ManagedPolicyArns as Json[]) ?? []) {
      const id = (m as { Ref?: string })?.Ref;
      const managed = id ? this.template.Resources[id] : undefined;
      if (managed?.Type === 'AWS::IAM::ManagedPolicy') add(managed.Properties!.PolicyDocument!, id!);
      // AWS managed policies (AWSLambdaBasicExecutionRole: logs) grant nothing the code calls itself.
    }
    return out;
  }

  /** Resource policies' Deny statements by the resource's ARN (bucket and queue policies). */
  resourceDenies(): Statement[] {
    const out: Statement[] = [];
    for (const [id, r] of Object.entries(this.template.Resources)) {
      if (r.Type !== 'AWS::S3::BucketPolicy' && r.Type !== 'AWS::SQS::QueuePolicy') continue;
      const doc = this.resolve(r.Properties!.PolicyDocument!) as unknown as { Statement: Statement[] };
      for (const s of doc.Statement) if (s.Effect === 'Deny') out.push({ ...s, Source: id });
    }
    return out;
  }

  /** The task definitions' roles and container environment, by task definition ARN. */
  taskDefinitions(): Map<
    string,
    { taskRoleArn: string; executionRoleArn: string; environment: Record<string, string>; logGroup: string }
  > {
    const out = new Map();
    for (const [id, r] of Object.entries(this.template.Resources)) {
      if (r.Type !== 'AWS::ECS::TaskDefinition') continue;
      const p = this.resolve(r.Properties as Json) as {
        TaskRoleArn: string;
        ExecutionRoleArn: string;
        ContainerDefinitions: {
          Environment: { Name: string; Value: string }[];
          LogConfiguration?: { Options?: Record<string, string> };
        }[];
      };
      const c = p.ContainerDefinitions[0]!;
      out.set(this.ref(id), {
        taskRoleArn: p.TaskRoleArn,
        executionRoleArn: p.ExecutionRoleArn,
        environment: Object.fromEntries(c.Environment.map((e) => [e.Name, e.Value])),
        logGroup: c.LogConfiguration?.Options?.['awslogs-group'] ?? '',
      });
    }
    return out;
  }

  /** The logical id of the role whose ARN this is. */
  roleByArn(arn: string): string {
    for (const [id, r] of Object.entries(this.template.Resources))
      if (r.Type === 'AWS::IAM::Role' && this.getAtt(id, 'Arn') === arn) return id;
    throw new Error(`no role in the template has the ARN ${arn}`);
  }
}
