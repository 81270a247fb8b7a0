import { PRICES } from '../../runtime/cost/prices.ts';

/** The one price table (runtime/cost/prices.ts), which each run's cost ledger reads too. */
export { PRICES };

/**
 * What an environment costs each month while no work is waiting: only resources billed by the hour or the
 * month whatever the load. Pay-per-use services (Lambda, SQS, API Gateway, EventBridge, DynamoDB on demand,
 * S3 requests, Fargate tasks per job, Aurora above its minimum) are zero at rest; storage (S3, Aurora, logs)
 * grows with the data and is left out.
 */
export interface CostLine {
  readonly item: string;
  readonly count: number;
  readonly monthly: number;
  readonly compute: boolean;
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

export function idleCost(template: { Resources?: Resources }): {
  lines: CostLine[];
  total: number;
  compute: number;
} {
  const resources = Object.values(template.Resources ?? {});
  const of = (type: string) => resources.filter((r) => r.Type === type);
  const h = PRICES.hoursPerMonth;
  const lines: CostLine[] = [];
  const add = (item: string, count: number, unit: number, compute = false) =>
    lines.push({ item, count, monthly: count * unit, compute });

  add(
    'NAT gateways (and their public IPv4 address)',
    of('AWS::EC2::NatGateway').length,
    (PRICES.natGatewayHour + PRICES.publicIpv4Hour) * h,
  );
  const interfaceAzs = of('AWS::EC2::VPCEndpoint')
    .filter((e) => e.Properties?.VpcEndpointType === 'Interface')
    .reduce((n, e) => n + ((e.Properties?.SubnetIds as unknown[] | undefined)?.length ?? 1), 0);
  add('interface VPC endpoints (per AZ)', interfaceAzs, PRICES.interfaceEndpointHourPerAz * h);
  add('KMS customer managed keys', of('AWS::KMS::Key').length, PRICES.kmsKeyMonth);
  const managedSecrets = of('AWS::RDS::DBCluster').filter(
    (c) => c.Properties?.ManageMasterUserPassword === true,
  ).length;
  add(
    'Secrets Manager secrets',
    of('AWS::SecretsManager::Secret').length + managedSecrets,
    PRICES.secretMonth,
  );
  const standing = of('AWS::ECS::Service').reduce((n, s) => n + Number(s.Properties?.DesiredCount ?? 1), 0);
  // A standing service's size is its task definition's; without resolving it, price the smallest Fargate task.
  add(
    'standing ECS tasks (0.25 vCPU, 0.5 GB each)',
    standing,
    (0.25 * PRICES.fargateVcpuHour + 0.5 * PRICES.fargateGbHour) * h,
    true,
  );
  const minAcu = of('AWS::RDS::DBCluster').reduce(
    (n, c) =>
      n +
      Number(
        (c.Properties?.ServerlessV2ScalingConfiguration as { MinCapacity?: number } | undefined)
          ?.MinCapacity ?? 0,
      ),
    0,
  );
  lines.push({
    item: `Aurora Serverless v2 at its minimum (${minAcu} ACU)`,
    count: minAcu,
    monthly: minAcu * PRICES.auroraAcuHour * h,
    compute: true,
  });
  add('CloudWatch alarms', of('AWS::CloudWatch::Alarm').length, PRICES.alarmMonth);
  add(
    'CloudWatch dashboards (first three free)',
    of('AWS::CloudWatch::Dashboard').length,
    PRICES.dashboardMonth,
  );
  const total = lines.reduce((n, l) => n + l.monthly, 0);
  const compute = lines.filter((l) => l.compute).reduce((n, l) => n + l.monthly, 0);
  return { lines, total, compute };
}
