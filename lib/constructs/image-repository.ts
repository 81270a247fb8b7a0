import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

export interface ImageRepositoryProps {
  /** Child accounts allowed to pull the task image. */
  readonly childAccounts: readonly string[];
  /** Images kept; older ones expire. @default 20 */
  readonly keepImages?: number;
  readonly allowDestroy?: boolean;
  /** Children name it in their config to pull across accounts, so it is fixed. @default 'strata-task' */
  readonly repositoryName?: string;
}

/**
 * The core account's task image repository: scanned on push, tags immutable (a release tag always means
 * the same image), old images expired, and pulls allowed to the configured child accounts only.
 */
export class ImageRepository extends Construct {
  readonly repository: ecr.Repository;

  constructor(scope: Construct, id: string, props: ImageRepositoryProps) {
    super(scope, id);
    const keep = props.keepImages ?? 20;
    if (keep < 1) throw new Error(`\`keepImages\` must be at least 1, got: ${keep}.`);
    for (const a of props.childAccounts)
      if (!/^\d{12}$/.test(a))
        throw new Error(`\`childAccounts\` must hold 12-digit account ids, got: ${a}.`);
    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: props.repositoryName ?? 'strata-task',
      imageScanOnPush: true,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      encryption: ecr.RepositoryEncryption.AES_256,
      removalPolicy: props.allowDestroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          description: 'untagged images after a day',
          tagStatus: ecr.TagStatus.UNTAGGED,
          maxImageAge: Duration.days(1),
        },
        { description: `keep the newest ${keep} images`, tagStatus: ecr.TagStatus.ANY, maxImageCount: keep },
      ],
    });
    if (props.childAccounts.length > 0)
      this.repository.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'ChildAccountsPull',
          principals: props.childAccounts.map((a) => new iam.AccountPrincipal(a)),
          actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
        }),
      );
  }
}
