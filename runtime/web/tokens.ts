import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a token is for: a cursor cannot be used as an upload URL, nor the other way round. */
export type TokenPurpose =
  | 'cursor'
  | 'changes'
  | 'upload'
  | 'download'
  | 'console-session'
  | 'console-form'
  | 'portal-session'
  | 'portal-form'
  | 'portal-oidc';

const mac = (key: string, purpose: TokenPurpose, body: string) =>
  createHmac('sha256', key).update(`strata.${purpose}.${body}`).digest();

/** `<base64url JSON>.<base64url HMAC-SHA256>`: opaque to clients, and refused if a byte of it changes. */
export function signToken(key: string, purpose: TokenPurpose, payload: unknown): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${mac(key, purpose, body).toString('base64url')}`;
}

/** The payload of a token made by `signToken` with this key and purpose; undefined for anything else. */
export function verifyToken(key: string, purpose: TokenPurpose, token: string): unknown {
  const [body, sig, extra] = token.split('.');
  if (!body || !sig || extra !== undefined) return undefined;
  const given = Buffer.from(sig, 'base64url');
  const expected = mac(key, purpose, body);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}
