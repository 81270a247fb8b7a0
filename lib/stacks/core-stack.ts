import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { CoreEnvironment } from '../config/schema.ts';
import { FederationCore } from '../constructs/federation-core.ts';
import { ImageRepository } from '../constructs/image-repository.ts';
import { logRetention } from './retention.ts';

export interface CoreStackProps extends StackProps {
  readonly config: CoreEnvironment;
}

/**
 * The regional core account: the generic task image repository its children pull from, and the federation
 * intake that keeps each child's publish freshness.
 */
export class CoreStack extends Stack {
  readonly images: ImageRepository;
  readonly federation: FederationCore;

  constructor(scope: Construct, id: string, props: CoreStackProps) {
    super(scope, id, props);
    const c = props.config;
    this.images = new ImageRepository(this, 'Images', {
      childAccounts: c.children.map((child) => child.account),
      untaggedExpireAfterDays: c.untaggedImageDays,
      allowDestroy: c.allowDestroy,
    });
    this.federation = new FederationCore(this, 'Federation', {
      children: c.children,
      logRetention: logRetention(c.logRetentionDays),
      allowDestroy: c.allowDestroy,
    });
    new CfnOutput(this, 'RepositoryUri', { value: this.images.repository.repositoryUri });
    new CfnOutput(this, 'FederationBusArn', { value: this.federation.bus.eventBusArn });
    new CfnOutput(this, 'CoreStatusUrl', {
      description: 'strata core status --url <this> (IAM auth: SigV4 with credentials of the core account)',
      value: this.federation.statusUrl.url,
    });
  }
}
