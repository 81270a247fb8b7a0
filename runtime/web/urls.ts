import { z } from 'zod';
import type { ObjectStore } from '../ports/object-store.ts';
import { type Door, link } from './door.ts';
import { signToken, verifyToken } from './tokens.ts';

export interface UploadTarget {
  readonly url: string;
  readonly method: 'PUT';
  /** Headers the PUT must carry exactly as given: they are part of the signature. */
  readonly headers: Readonly<Record<string, string>>;
  readonly expiresAt: string;
}

export interface SignedDownload {
  readonly url: string;
  readonly expiresAt: string;
}

export interface UrlContext {
  readonly door: Door;
  readonly signingKey: string;
}

/** Short-lived URLs that let a partner fetch or send one object without any other credentials. */
export interface UrlSigner {
  download(key: string, ctx: UrlContext): Promise<SignedDownload>;
  upload(key: string, bounds: { size: number; contentType: string }, ctx: UrlContext): Promise<UploadTarget>;
}

const expiry = (now: number, seconds: number) => new Date(now + seconds * 1000).toISOString();

/** S3 presigned URLs: GET from egress; PUT into ingress with Content-Length and Content-Type signed. */
export class S3UrlSigner implements UrlSigner {
  constructor(
    private readonly store: ObjectStore,
    private readonly seconds: { download: number; upload: number },
    private readonly now: () => number = Date.now,
  ) {}

  async download(key: string): Promise<SignedDownload> {
    const url = await this.store.presign('egress', key, {
      method: 'GET',
      expiresSeconds: this.seconds.download,
    });
    return { url, expiresAt: expiry(this.now(), this.seconds.download) };
  }

  async upload(key: string, bounds: { size: number; contentType: string }): Promise<UploadTarget> {
    const url = await this.store.presign('ingress', key, {
      method: 'PUT',
      expiresSeconds: this.seconds.upload,
      contentLength: bounds.size,
      contentType: bounds.contentType,
    });
    return {
      url,
      method: 'PUT',
      headers: { 'Content-Type': bounds.contentType, 'Content-Length': String(bounds.size) },
      expiresAt: expiry(this.now(), this.seconds.upload),
    };
  }
}

/** What a local upload or download URL grants, signed into its token. */
export const LocalGrant = z.object({
  key: z.string(),
  /** Unix seconds after which the URL is refused. */
  exp: z.number().int(),
  size: z.number().int().positive().optional(),
  type: z.string().optional(),
});
export type LocalGrant = z.infer<typeof LocalGrant>;

/**
 * Locally there is no S3 to presign: URLs point at `strata serve` itself (`/_local/uploads/<token>`,
 * `/_local/downloads/<token>`), with what they grant signed into the token, and the server enforces it.
 */
export class LocalUrlSigner implements UrlSigner {
  constructor(
    private readonly seconds: { download: number; upload: number },
    private readonly now: () => number = Date.now,
  ) {}

  async download(key: string, ctx: UrlContext): Promise<SignedDownload> {
    const exp = Math.floor(this.now() / 1000) + this.seconds.download;
    const token = signToken(ctx.signingKey, 'download', { key, exp } satisfies LocalGrant);
    return {
      url: link(ctx.door, `/_local/downloads/${token}`),
      expiresAt: new Date(exp * 1000).toISOString(),
    };
  }

  async upload(
    key: string,
    bounds: { size: number; contentType: string },
    ctx: UrlContext,
  ): Promise<UploadTarget> {
    const exp = Math.floor(this.now() / 1000) + this.seconds.upload;
    const grant: LocalGrant = { key, exp, size: bounds.size, type: bounds.contentType };
    const token = signToken(ctx.signingKey, 'upload', grant);
    return {
      url: link(ctx.door, `/_local/uploads/${token}`),
      method: 'PUT',
      headers: { 'Content-Type': bounds.contentType, 'Content-Length': String(bounds.size) },
      expiresAt: new Date(exp * 1000).toISOString(),
    };
  }
}

/** The grant in a local URL's token, if the token is genuine and has not expired. */
export function readLocalGrant(
  signingKey: string,
  purpose: 'upload' | 'download',
  token: string,
  now = Date.now(),
): LocalGrant | 'expired' | undefined {
  const parsed = LocalGrant.safeParse(verifyToken(signingKey, purpose, token));
  if (!parsed.success) return undefined;
  return parsed.data.exp * 1000 < now ? 'expired' : parsed.data;
}
