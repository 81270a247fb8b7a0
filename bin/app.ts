// The CDK app: one stack per environment, checked by cdk-nag. Only this file reads context:
// `cdk synth -c env=child-a` for one environment, every environment when none is named.
import { App } from 'aws-cdk-lib';
import { addEnvironments } from '../lib/app-builder.ts';
import { loadEnvironments } from '../lib/config/environments.ts';
import { catalogSchedules } from '../lib/config/schedules.ts';

const app = new App();
const only = app.node.tryGetContext('env') as string | undefined;
const catalogDir = (app.node.tryGetContext('catalog') as string | undefined) ?? 'catalog';
addEnvironments(app, loadEnvironments(only), await catalogSchedules(catalogDir));
