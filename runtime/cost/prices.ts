/**
 * The one price table: what the idle-cost script (`npm run cost`) and every run's cost ledger read.
 *
 * AWS on-demand list prices for eu-west-2 (London), USD, 730 hours a month, as we last read them from the
 * AWS pricing pages on the date below (this workplace cannot reach them to check again). They are for
 * estimating: check the AWS price list before budgeting, and update the table and its date when you do.
 */
export const PRICES = {
  date: '2026-11-23',
  region: 'eu-west-2',
  hoursPerMonth: 730,
  natGatewayHour: 0.05,
  publicIpv4Hour: 0.005,
  interfaceEndpointHourPerAz: 0.011,
  kmsKeyMonth: 1.0,
  secretMonth: 0.4,
  /** Fargate, Linux on x86_64 (a standing service of unknown architecture is priced at these). */
  fargateVcpuHour: 0.04656,
  fargateGbHour: 0.00511,
  /** Fargate, Linux on ARM64 (Graviton): what Strata's tasks run on. */
  fargateArmVcpuHour: 0.03725,
  fargateArmGbHour: 0.00409,
  /** Ephemeral storage above the 20 GB every task gets. */
  fargateEphemeralGbHour: 0.000122,
  /** Fargate bills each task for at least a minute. */
  fargateMinimumSeconds: 60,
  auroraAcuHour: 0.14,
  /** S3 Standard: PUT, COPY, POST and LIST requests. */
  s3PutPer1000: 0.0053,
  /** S3 Standard: GET, HEAD and other reads. */
  s3GetPer1000: 0.00042,
  s3StorageGbMonth: 0.024,
  /** Within the region (tasks reach S3 through the VPC's gateway endpoint), S3 transfer is free. */
  s3TransferInRegionGb: 0,
  /** RDS Data API, the first billion requests a month. */
  dataApiPerMillion: 0.35,
  alarmMonth: 0.1,
  /** The first three dashboards of an account are free. */
  dashboardMonth: 0,
} as const;

export type Prices = typeof PRICES;
