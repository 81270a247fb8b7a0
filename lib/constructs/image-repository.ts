import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

export interface ImageRepositoryProps {
  /** Child accounts allowed to pull the task image. */
  readonly childAccounts: readonly string[];
  /** Days an untagged image is kept before it expires. Tagged images never expire. @default 14 */
  readonly untaggedExpireAfterDays?: number;
  readonly allowDestroy?: boolean;
  /** Children name it in their config to pull across accounts, so it is fixed. @default 'strata-task' */
  readonly repositoryName?: string;
}

/**
 * The core account's task image repository: scanned on push, tags immutable (a release tag always means
 * the same image), and pulls allowed to the configured child accounts only.
 *
 * Only untagged images expire: a child pins a tag in its config, so a rule that counted tagged images (keep
 * the newest N) would one day delete the image a child still runs. An image index's platform manifests are
 * untagged too, and ECR may expire them under a tagged index; docs/deploy.md therefore pushes one plain manifest
 * (`--provenance=false`, one platform), so nothing a tag names is ever untagged.
 */
export class ImageRepository extends Construct {
  readonly repository: ecr.Repository;

  constructor(scope: Construct, id: string, props: ImageRepositoryProps) {
    super(scope, id);
    const untaggedDays = props.untaggedExpireAfterDays ?? 14;
    if (!Number.isInteger(untaggedDays) || untaggedDays < 1)
      throw new Error(
        `\`untaggedExpireAfterDays\` must be a whole number of days of at least 1, got: ${untaggedDays}.`,
      );
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
          description: `untagged images after ${untaggedDays} days (tagged images are kept)`,
          tagStatus: ecr.TagStatus.UNTAGGED,
          maxImageAge: Duration.days(untaggedDays),
        },
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
