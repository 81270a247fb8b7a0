import { type App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Environment } from './config/schema.ts';
import type { CatalogSchedule } from './constructs/triggers.ts';
import { suppressChildFindings } from './nag.ts';
import { ChildStack } from './stacks/child-stack.ts';
import { CoreStack } from './stacks/core-stack.ts';

/** One stack per environment on `app`, checked by cdk-nag: what `bin/app.ts`, the tests and `npm run cost` share. */
export function addEnvironments(
  app: App,
  environments: readonly Environment[],
  schedules: readonly CatalogSchedule[],
): (CoreStack | ChildStack)[] {
  const stacks = environments.map((config) => {
    const env = { account: config.account, region: config.region };
    const id = `strata-${config.name}`;
    if (config.kind === 'core')
      return new CoreStack(app, id, { env, config, description: `Strata core (${config.name})` });
    const stack = new ChildStack(app, id, {
      env,
      config,
      schedules,
      description: `Strata child (${config.name})`,
    });
    suppressChildFindings(stack);
    return stack;
  });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return stacks;
}
