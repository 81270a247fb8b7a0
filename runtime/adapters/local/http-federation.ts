import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Federation, SignedSummary } from '../../ports/federation.ts';
import { signingKey } from '../../ports/federation-keys.ts';

/** The environment a local child reads to find its core: the core's URL, its own name, its key file. */
export const LOCAL_FEDERATION_ENV = {
  coreUrl: 'STRATA_CORE_URL',
  child: 'STRATA_CHILD_NAME',
  keyFile: 'STRATA_FEDERATION_KEY_FILE',
} as const;

/** `<home>/federation.key`, where `strata core keygen` writes a child's key. */
export const defaultKeyFile = (home: string) => join(home, 'federation.key');

/**
 * A child on one machine: summaries are POSTed to `strata serve --core` at `<core>/summaries`. Configured by
 * STRATA_CORE_URL and STRATA_CHILD_NAME, with the key in STRATA_FEDERATION_KEY_FILE (default
 * `<home>/federation.key`); without a core URL there is no federation.
 */
export class HttpFederation implements Federation {
  readonly destination: string;
  private key: KeyObject | undefined;

  constructor(
    readonly child: string,
    private readonly coreUrl: string,
    private readonly keyFile: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.destination = new URL('summaries', coreUrl.endsWith('/') ? coreUrl : `${coreUrl}/`).toString();
  }

  static fromEnv(home: string, env: NodeJS.ProcessEnv = process.env): HttpFederation | undefined {
    const url = env[LOCAL_FEDERATION_ENV.coreUrl];
    if (!url) return undefined;
    const child = env[LOCAL_FEDERATION_ENV.child];
    if (!child)
      throw new Error(`${LOCAL_FEDERATION_ENV.coreUrl} is set, but ${LOCAL_FEDERATION_ENV.child} is not`);
    return new HttpFederation(child, url, env[LOCAL_FEDERATION_ENV.keyFile] ?? defaultKeyFile(home));
  }

  async signingKey(): Promise<KeyObject> {
    if (!this.key) {
      let text: string;
      try {
        text = await readFile(this.keyFile, 'utf8');
      } catch {
        throw new Error(`no federation key at ${this.keyFile} (make one with \`strata core keygen\`)`);
      }
      this.key = signingKey(text);
    }
    return this.key;
  }

  async send(signed: SignedSummary): Promise<void> {
    const res = await fetch(this.destination, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(signed),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!res.ok) {
      const body = (await res.text()).slice(0, 500);
      throw new Error(`the core at ${this.destination} answered ${res.status}: ${body}`);
    }
  }
}
