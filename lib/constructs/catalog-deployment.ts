import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssetHashType } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { ENV } from '../../runtime/aws/names.ts';
import { packCatalog } from '../../runtime/catalog-files/bundle.ts';

export interface CatalogDeploymentProps {
  /** The child's catalog directory (absolute). */
  readonly dir: string;
}

/**
 * A child's catalog, deployed with its stack: the directory packed into one object (runtime/catalog-files/bundle.ts),
 * published as an S3 asset keyed by its sha256. The stack records the hash (an output, and the environment of
 * every task and function that reads the catalog), and readers check the object against it. The task image
 * stays generic: two children deploy different catalogs with the same image.
 */
export class CatalogDeployment extends Construct {
  readonly asset: s3assets.Asset;
  readonly sha256: string;

  constructor(scope: Construct, id: string, props: CatalogDeploymentProps) {
    super(scope, id);
    const { bytes, sha256 } = packCatalog(props.dir);
    const staging = mkdtempSync(join(tmpdir(), 'strata-catalog-pack-'));
    const file = join(staging, 'catalog.json');
    writeFileSync(file, bytes);
    this.sha256 = sha256;
    this.asset = new s3assets.Asset(this, 'Pack', {
      path: file,
      assetHash: sha256,
      assetHashType: AssetHashType.CUSTOM,
    });
  }

  /** What a task or function needs to find and check the catalog. */
  environment(): Record<string, string> {
    return {
      [ENV.catalogBucket]: this.asset.s3BucketName,
      [ENV.catalogKey]: this.asset.s3ObjectKey,
      [ENV.catalogSha256]: this.sha256,
    };
  }

  /** Read access to exactly this object (not the whole asset bucket). */
  grantRead(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.asset.bucket.arnForObjects(this.asset.s3ObjectKey)],
      }),
    );
  }
}
