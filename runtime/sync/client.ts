import * as Hawk from 'hawk';

/**
 * A partner's client of the Strata partner API, as `strata sync` uses it: each request signed with Hawk
 * (and the answer's Server-Authorization checked against its body) or sent with an API key, and every byte
 * of every answer counted, so a sync can say what it moved.
 */

export type Auth =
  | { readonly hawk: { readonly id: string; readonly key: string } }
  | { readonly apiKey: string };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
    readonly detail: string,
  ) {
    super(`${url}: ${status} ${detail}`);
    this.name = 'ApiError';
  }
}

export interface Traffic {
  requests: number;
  /** Bytes of the answers' bodies. */
  bytes: number;
}

export class PartnerClient {
  readonly traffic: Traffic = { requests: 0, bytes: 0 };

  constructor(
    readonly api: string,
    private readonly auth: Auth,
  ) {}

  /** An absolute URL for a path of the API, or the URL itself (a `next` link). */
  url(pathOrUrl: string): string {
    if (/^https?:\/\//.test(pathOrUrl)) return pathOrUrl;
    return `${this.api.replace(/\/+$/, '')}${pathOrUrl}`;
  }

  /** GETs JSON; ApiError with the problem's detail for any status but 200. */
  async get<T>(pathOrUrl: string): Promise<T> {
    const url = this.url(pathOrUrl);
    const credentials = 'hawk' in this.auth ? { ...this.auth.hawk, algorithm: 'sha256' as const } : undefined;
    const signed = credentials ? Hawk.client.header(url, 'GET', { credentials }) : undefined;
    const headers: Record<string, string> = signed
      ? { Authorization: signed.header }
      : { 'X-API-Key': (this.auth as { apiKey: string }).apiKey };
    const res = await fetch(url, { headers });
    const text = await res.text();
    this.traffic.requests++;
    this.traffic.bytes += Buffer.byteLength(text);
    if (credentials && signed)
      // Throws unless the server signed exactly this answer to exactly this request.
      Hawk.client.authenticate(
        { headers: Object.fromEntries(res.headers) } as never,
        credentials,
        signed.artifacts,
        {
          payload: text,
          required: true,
        },
      );
    if (res.status !== 200) {
      let detail = text.slice(0, 500);
      try {
        detail = (JSON.parse(text) as { detail?: string }).detail ?? detail;
      } catch {}
      throw new ApiError(res.status, url, detail);
    }
    return JSON.parse(text) as T;
  }
}
