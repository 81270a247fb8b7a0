import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { canonicalJson, type PublishSummary, type SignedSummary } from './federation.ts';

/** PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const MIN_SECRET_LENGTH = 32;

export class FederationKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FederationKeyError';
  }
}

/**
 * A child's Ed25519 signing key, from its secret text: the seed is the sha256 of the text. So the secret can
 * be what Secrets Manager generates in the child account at deploy (the private key never leaves it), or what
 * `strata core keygen` writes locally; the core holds only public keys, so it cannot forge a child's summary.
 */
export function signingKey(secret: string): KeyObject {
  const text = secret.trim();
  if (text.length < MIN_SECRET_LENGTH)
    throw new FederationKeyError(
      `a federation key must be secret text of at least ${MIN_SECRET_LENGTH} characters, got ${text.length}`,
    );
  const seed = createHash('sha256').update(text, 'utf8').digest();
  return createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** The public key for a secret, as the core's config holds it: base64 of its SPKI DER. */
export function publicKeyOf(secret: string): string {
  return createPublicKey(signingKey(secret)).export({ format: 'der', type: 'spki' }).toString('base64');
}

/** New secret text for a signing key (256 random bits). */
export function newFederationSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function signSummary(summary: PublishSummary, key: KeyObject): SignedSummary {
  return {
    summary: { ...summary },
    signature: sign(null, Buffer.from(canonicalJson(summary), 'utf8'), key).toString('base64'),
  };
}

/** Whether `signed` was signed by the holder of `publicKey` (base64 SPKI DER); a malformed key verifies nothing. */
export function verifySummary(signed: SignedSummary, publicKey: string): boolean {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' });
  } catch {
    return false;
  }
  if (key.asymmetricKeyType !== 'ed25519') return false;
  try {
    return verify(
      null,
      Buffer.from(canonicalJson(signed.summary), 'utf8'),
      key,
      Buffer.from(signed.signature, 'base64'),
    );
  } catch {
    return false;
  }
}
