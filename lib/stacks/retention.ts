import type * as logs from 'aws-cdk-lib/aws-logs';

/** Days (validated against CloudWatch's list in the config schema) to the enum CDK takes. */
export function logRetention(days: number): logs.RetentionDays {
  return days as logs.RetentionDays;
}
