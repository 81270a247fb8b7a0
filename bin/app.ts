// The CDK app: one stack per environment, checked by cdk-nag. Only this file reads context:
// `cdk synth -c env=child-a` for one environment, every environment when none is named. Each child's
// catalog comes from its config (`catalog`, the repository's catalog/ by default).
import { App } from 'aws-cdk-lib';
import { addEnvironments, childCatalogs } from '../lib/app-builder.ts';
import { loadEnvironments } from '../lib/config/environments.ts';

const app = new App();
const only = app.node.tryGetContext('env') as string | undefined;
const environments = loadEnvironments(only);
addEnvironments(app, environments, await childCatalogs(environments));
