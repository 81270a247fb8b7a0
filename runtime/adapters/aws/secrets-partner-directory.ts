import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { parseDirectory } from '../../partners/credentials.ts';
import {
  type PartnerDirectoryDoc as Doc,
  type PartnerDirectory,
  PartnerDirectoryDoc,
} from '../../ports/partner-directory.ts';

/**
 * The partner directory in one Secrets Manager secret. Reads are cached for `ttlMs` (a minute by default):
 * a new partner, a rotated or revoked key takes effect within that time on every function instance, with no
 * deploy; Secrets Manager is called about once a minute per instance, not per request.
 */
export class SecretsPartnerDirectory implements PartnerDirectory {
  private cached: { at: number; doc: Doc } | undefined;

  constructor(
    private readonly secretId: string,
    private readonly client: SecretsManagerClient = new SecretsManagerClient({}),
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  get where(): string {
    return `secret ${this.secretId}`;
  }

  async read(): Promise<Doc> {
    if (this.cached && this.now() - this.cached.at < this.ttlMs) return this.cached.doc;
    const doc = await this.fetch();
    this.cached = { at: this.now(), doc };
    return doc;
  }

  async update(change: (doc: Doc) => Doc): Promise<Doc> {
    const next = PartnerDirectoryDoc.parse(change(await this.fetch()));
    await this.client.send(
      new PutSecretValueCommand({ SecretId: this.secretId, SecretString: JSON.stringify(next) }),
    );
    this.cached = { at: this.now(), doc: next };
    return next;
  }

  private async fetch(): Promise<Doc> {
    const out = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
    return parseDirectory(out.SecretString ?? '', this.where);
  }
}
