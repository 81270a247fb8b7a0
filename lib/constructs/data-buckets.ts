import { Annotations, Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface DataBucketsProps {
  /** Days after which an ingress object expires; it has been archived by then. @default 7 */
  readonly ingressExpireAfterDays?: number;
  /** Destroy the buckets with the stack instead of retaining them. @default false */
  readonly allowDestroy?: boolean;
  /**
   * The one IAM role (its name, in this account) that may delete from the archive, for a legal or
   * break-glass need. Every other principal is denied object and version deletes by the bucket policy.
   * @default none: no principal may delete from the archive
   */
  readonly archiveBreakGlassRole?: string;
}

/**
 * The three buckets data moves through, and the log bucket their access logs go to. Ingress holds what
 * lands until it is archived (versioned, so a task reads exactly the object version its event named, not
 * whatever the key holds by then); archive keeps every dataset version for good (versioned, and its bucket
 * policy denies object and version deletes to every principal but a named break-glass role, whatever IAM
 * grants); egress holds published product versions.
 */
export class DataBuckets extends Construct {
  readonly ingress: s3.Bucket;
  readonly archive: s3.Bucket;
  readonly egress: s3.Bucket;
  readonly logs: s3.Bucket;

  constructor(scope: Construct, id: string, props: DataBucketsProps = {}) {
    super(scope, id);
    const expireAfterDays = props.ingressExpireAfterDays ?? 7;
    if (!Number.isInteger(expireAfterDays) || expireAfterDays < 1)
      throw new Error(
        `\`ingressExpireAfterDays\` must be a whole number of days of at least 1, got: ${expireAfterDays}.`,
      );
    const removalPolicy = props.allowDestroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    if (props.allowDestroy)
      Annotations.of(this).addWarningV2(
        'strata:allow-destroy',
        'allowDestroy is set: the data buckets are deleted with the stack.',
      );
    const common: s3.BucketProps = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
    };
    this.logs = new s3.Bucket(this, 'AccessLogBucket', {
      ...common,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
    });
    this.ingress = new s3.Bucket(this, 'IngressBucket', {
      ...common,
      versioned: true,
      serverAccessLogsBucket: this.logs,
      serverAccessLogsPrefix: 'ingress/',
      eventBridgeEnabled: true,
      // The partner portal's page PUTs a file straight here by a presigned URL. The signature is the
      // credential (one key, its size and type, fifteen minutes); CORS only lets the page read the answer.
      // Any origin, because the API's own is not known at synth (API Gateway names it at deploy).
      cors: [
        {
          allowedMethods: [s3.HttpMethods.PUT],
          allowedOrigins: ['*'],
          allowedHeaders: ['content-type'],
          maxAge: 3600,
        },
      ],
      lifecycleRules: [
        // A version replaced by a later upload is still read by the task its own event started.
        {
          expiration: Duration.days(expireAfterDays),
          noncurrentVersionExpiration: Duration.days(expireAfterDays),
        },
        { expiredObjectDeleteMarker: true },
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    this.archive = new s3.Bucket(this, 'ArchiveBucket', {
      ...common,
      versioned: true,
      serverAccessLogsBucket: this.logs,
      serverAccessLogsPrefix: 'archive/',
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });
    const breakGlass = props.archiveBreakGlassRole;
    if (breakGlass !== undefined && !/^[\w+=,.@-]{1,64}$/.test(breakGlass))
      throw new Error(`\`archiveBreakGlassRole\` must be an IAM role name, got: ${breakGlass}.`);
    this.archive.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyArchiveDeletes',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
        resources: [this.archive.arnForObjects('*')],
        ...(breakGlass
          ? {
              conditions: {
                ArnNotEquals: {
                  'aws:PrincipalArn': `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/${breakGlass}`,
                },
              },
            }
          : {}),
      }),
    );
    this.egress = new s3.Bucket(this, 'EgressBucket', {
      ...common,
      versioned: true,
      serverAccessLogsBucket: this.logs,
      serverAccessLogsPrefix: 'egress/',
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });
  }
}
