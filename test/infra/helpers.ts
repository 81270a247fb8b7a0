import { readFileSync } from 'node:fs';
import { App, type Stack, Stage } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { addEnvironments, childCatalogs } from '../../lib/app-builder.ts';
import { ENVIRONMENTS, parseEnvironment } from '../../lib/config/environments.ts';
import type { CatalogSchedule } from '../../lib/constructs/triggers.ts';

/**
 * An app with no asset bundling (tests check templates, not bundles) holding the named environment, its
 * catalog loaded as `cdk synth` loads it; `schedules` replaces the catalog's schedules when given.
 */
export async function synthEnvironment(
  name: string,
  overrides: Record<string, unknown> = {},
  schedules?: CatalogSchedule[],
): Promise<Stack> {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const raw = { ...(ENVIRONMENTS[name] as Record<string, unknown>), ...overrides };
  const environments = [parseEnvironment(name, raw)];
  const catalogs = await childCatalogs(environments);
  if (schedules) for (const [k, c] of catalogs) catalogs.set(k, { ...c, schedules });
  const [stack] = addEnvironments(app, environments, catalogs);
  app.synth();
  return stack!;
}

/** cdk-nag's unsuppressed findings on a stack, as `rule: path` lines. */
export function nagFindings(stack: Stack, level: 'error' | 'warning'): string[] {
  const a = Annotations.fromStack(stack);
  const found =
    level === 'error'
      ? a.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))
      : a.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'));
  return found.map((f) => `${String(f.entry.data).split(':')[0]}: ${f.id}`);
}

/** The stack's asset manifest (`<stack>.assets.json`): its file and Docker image assets, as cdk-assets publishes them. */
export function assetManifest(stack: Stack): {
  /** The cloud assembly's directory, which asset source paths are relative to. */
  dir: string;
  files: Record<
    string,
    {
      displayName?: string;
      source: { path: string; packaging: string };
      destinations: Record<string, { objectKey: string }>;
    }
  >;
  dockerImages: Record<
    string,
    {
      source: { directory: string; dockerFile?: string; platform?: string };
      destinations: Record<string, unknown>;
    }
  >;
} {
  const assembly = Stage.of(stack)!.synth();
  const artifact = assembly
    .getStackArtifact(stack.artifactId)
    .dependencies.find((d) => d instanceof cxapi.AssetManifestArtifact) as cxapi.AssetManifestArtifact;
  return { dir: assembly.directory, ...JSON.parse(readFileSync(artifact.file, 'utf8')) };
}
