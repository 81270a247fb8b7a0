import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import type { defaultProvider } from '@aws-sdk/credential-provider-node';

type SourceData = string | ArrayBuffer | ArrayBufferView;

/** SHA-256 (or its HMAC, given a secret) on node:crypto, the shape SignatureV4 asks for. */
class Sha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined
      ? createHash('sha256')
      : createHmac(
          'sha256',
          typeof this.secret === 'string' ? this.secret : Buffer.from(this.secret as Uint8Array),
        );
  }
  update(data: Uint8Array | string): void {
    this.hash.update(typeof data === 'string' ? data : Buffer.from(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

/** `https://<id>.lambda-url.<region>.on.aws/...` → its region; undefined for any other URL. */
export function lambdaUrlRegion(url: URL): string | undefined {
  return /^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$/.exec(url.hostname)?.[1];
}

/**
 * GET a URL; a Lambda function URL with IAM auth (the core's status API) is signed with SigV4 using the
 * caller's AWS credentials (the SDK's default chain: environment, profile, SSO, instance role).
 */
export async function getJson(
  url: URL,
  credentials?: ReturnType<typeof defaultProvider>,
): Promise<{ status: number; body: unknown }> {
  const region = lambdaUrlRegion(url);
  let headers: Record<string, string> = { accept: 'application/json' };
  if (region) {
    // Loaded only when a URL needs signing: the SDK's credential chain adds a tenth of a second to the start
    // of every command that imports it.
    const [{ defaultProvider: chain }, { SignatureV4 }] = await Promise.all([
      import('@aws-sdk/credential-provider-node'),
      import('@smithy/signature-v4'),
    ]);
    const signer = new SignatureV4({
      service: 'lambda',
      region,
      credentials: credentials ?? chain(),
      sha256: Sha256,
    });
    const signed = await signer.sign({
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { host: url.hostname, ...headers },
    });
    headers = signed.headers;
  }
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: give the text back as it came.
  }
  return { status: res.status, body };
}
