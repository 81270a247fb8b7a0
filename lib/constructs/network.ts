import { Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export type NetworkMode = 'public-egress' | 'nat' | 'endpoints';

export interface NetworkProps {
  /** @default 'public-egress' */
  readonly mode?: NetworkMode;
  /** @default 2 */
  readonly maxAzs?: number;
  readonly logRetention: logs.RetentionDays;
  /** In `endpoints` mode, an EventBridge endpoint too (tasks put federation summaries). @default false */
  readonly eventBridgeEndpoint?: boolean;
}

/**
 * The VPC. By default it costs nothing at rest: tasks get public subnets and a public IP (their security
 * group has no inbound rule), the database sits in isolated subnets, and S3 is reached through a gateway
 * endpoint. `nat` puts tasks behind one NAT gateway; `endpoints` keeps them isolated with interface
 * endpoints. Both of those cost money every hour.
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  readonly mode: NetworkMode;
  /** Where Fargate tasks run. */
  readonly taskSubnets: ec2.SubnetSelection;
  readonly assignPublicIp: boolean;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    this.mode = props.mode ?? 'public-egress';
    const maxAzs = props.maxAzs ?? 2;
    if (maxAzs < 2 || maxAzs > 3) throw new Error(`\`maxAzs\` must be between 2 and 3, got: ${maxAzs}.`);
    const subnetConfiguration: ec2.SubnetConfiguration[] = [
      { name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
    ];
    if (this.mode !== 'endpoints')
      subnetConfiguration.push({ name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 });
    if (this.mode === 'nat')
      subnetConfiguration.push({
        name: 'Private',
        subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS,
        cidrMask: 22,
      });
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.60.0.0/16'),
      maxAzs,
      natGateways: this.mode === 'nat' ? 1 : 0,
      subnetConfiguration,
      restrictDefaultSecurityGroup: false,
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      flowLogs: {
        Rejected: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(this, 'FlowLogs', { retention: props.logRetention }),
          ),
          trafficType: ec2.FlowLogTrafficType.REJECT,
        },
      },
    });
    Validations.of(this.vpc).acknowledge({
      id: 'CloudFormation-Validate::W3010',
      reason:
        'Zones are named in the stack (`availabilityZones`) so that `cdk synth` works offline, with no AWS lookup.',
    });
    if (this.mode === 'endpoints') {
      // Every service a task calls: image pulls, logs, the database secret, the jobs queue, and EventBridge
      // for a federated child's summaries (S3 has its gateway endpoint; Aurora is inside the VPC).
      const services: [string, ec2.InterfaceVpcEndpointAwsService][] = [
        ['EcrApi', ec2.InterfaceVpcEndpointAwsService.ECR],
        ['EcrDocker', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
        ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
        ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
        ['Sqs', ec2.InterfaceVpcEndpointAwsService.SQS],
      ];
      if (props.eventBridgeEndpoint)
        services.push(['EventBridge', ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE]);
      for (const [name, service] of services)
        this.vpc.addInterfaceEndpoint(`${name}Endpoint`, { service, privateDnsEnabled: true });
    }
    this.taskSubnets =
      this.mode === 'public-egress'
        ? { subnetType: ec2.SubnetType.PUBLIC }
        : this.mode === 'nat'
          ? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }
          : { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    this.assignPublicIp = this.mode === 'public-egress';
  }
}
