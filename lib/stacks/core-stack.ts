import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { CoreEnvironment } from '../config/schema.ts';
import { ImageRepository } from '../constructs/image-repository.ts';

export interface CoreStackProps extends StackProps {
  readonly config: CoreEnvironment;
}

/** The regional core account: the task image repository its child accounts pull from. */
export class CoreStack extends Stack {
  readonly images: ImageRepository;

  constructor(scope: Construct, id: string, props: CoreStackProps) {
    super(scope, id, props);
    this.images = new ImageRepository(this, 'Images', {
      childAccounts: props.config.childAccounts,
      keepImages: props.config.keepImages,
      allowDestroy: props.config.allowDestroy,
    });
    new CfnOutput(this, 'RepositoryUri', { value: this.images.repository.repositoryUri });
  }
}
