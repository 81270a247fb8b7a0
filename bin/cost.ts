// `npm run cost -- <env>`: the fixed monthly cost of an environment at rest, read from its synthesized template.
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addEnvironments, childCatalogs } from '../lib/app-builder.ts';
import { loadEnvironments } from '../lib/config/environments.ts';
import { idleCost, PRICES } from '../lib/cost/idle-cost.ts';

const [name, ...rest] = process.argv.slice(2);
const json = rest.includes('--json');
if (!name) {
  process.stderr.write('usage: npm run cost -- <environment> [--json]\n');
  process.exit(2);
}
const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const environments = loadEnvironments(name);
const [stack] = addEnvironments(app, environments, await childCatalogs(environments));
const cost = idleCost(Template.fromStack(stack!).toJSON());
if (json)
  process.stdout.write(`${JSON.stringify({ environment: name, prices: PRICES, ...cost }, null, 2)}\n`);
else {
  process.stdout.write(
    `${name}: fixed monthly cost at rest (${PRICES.region} list prices of ${PRICES.date}, USD)\n\n`,
  );
  for (const l of cost.lines)
    process.stdout.write(
      `  ${l.item.padEnd(52)} ${String(l.count).padStart(4)}  $${l.monthly.toFixed(2).padStart(7)}\n`,
    );
  process.stdout.write(`\n  ${'total'.padEnd(52)}       $${cost.total.toFixed(2).padStart(7)}\n`);
  process.stdout.write(
    `  ${'of which compute (standing tasks, Aurora minimum)'.padEnd(52)}       $${cost.compute.toFixed(2).padStart(7)}\n`,
  );
  process.stdout.write(
    '\nNot included: storage (S3, Aurora, logs), which grows with the data, and pay-per-use services.\n',
  );
}
