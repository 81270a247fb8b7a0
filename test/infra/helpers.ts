import { App, type Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { addEnvironments } from '../../lib/app-builder.ts';
import { ENVIRONMENTS, parseEnvironment } from '../../lib/config/environments.ts';
import type { CatalogSchedule } from '../../lib/constructs/triggers.ts';

/** An app with no asset bundling (tests check templates, not bundles) holding the named environment. */
export function synthEnvironment(
  name: string,
  overrides: Record<string, unknown> = {},
  schedules: CatalogSchedule[] = [],
): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const raw = { ...(ENVIRONMENTS[name] as Record<string, unknown>), ...overrides };
  const [stack] = addEnvironments(app, [parseEnvironment(name, raw)], schedules);
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
