import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_SERVICE } from '../../runtime/aws/metrics.ts';
import { METRICS_NAMESPACE } from '../../runtime/aws/names.ts';

/** Module scope, as Powertools advises: one logger and one metrics buffer per function instance. */
export const logger = new Logger({ serviceName: METRICS_SERVICE });
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
