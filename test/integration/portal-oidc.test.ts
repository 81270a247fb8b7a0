// Signing in to the partner portal with an organisation's OpenID Connect provider: a real issuer
// (oidc-provider) on 127.0.0.1, the code flow with PKCE through the one HTTP application, the partner taken
// from a claim, and the ways it must refuse (a partner nobody knows, no claim, a callback it did not start,
// a state changed on the way). The flow reads and writes no database.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portalSignInFromEnv } from '../../runtime/portal/oidc.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { PARTNER_CLAIM, startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.ts';
import { MemoryDirectory, noDatabase, PARTNER_CATALOG, testApp } from '../helpers/partner-api.ts';

const BASE = 'http://127.0.0.1:8787';
const formToken = (page: string) => /name="form" value="([^"]+)"/.exec(page)?.[1] ?? '';
const cookieOf = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .find((c) => c.startsWith(`${name}=`))
    ?.split(';')[0];

describe("the portal's sign-in with the organisation's OpenID Connect provider", () => {
  let issuer: TestIssuer;
  let app: ReturnType<typeof testApp>;
  const partners = new MemoryDirectory();
  partners.add('acme', ['upload:datasets/roads']);

  beforeAll(async () => {
    issuer = await startTestIssuer([`${BASE}/portal/login/oidc/callback`]);
    const catalog = await writeCatalog(
      join(await mkdtemp(join(tmpdir(), 'strata-oidc-')), 'catalog'),
      PARTNER_CATALOG,
    );
    app = testApp({
      catalog,
      store: {} as never,
      partners,
      runs: noDatabase,
      queue: noDatabase,
      portalSignIn: portalSignInFromEnv({
        STRATA_PORTAL_OIDC_ISSUER: issuer.issuer,
        STRATA_PORTAL_OIDC_CLIENT_ID: issuer.clientId,
        STRATA_PORTAL_OIDC_CLIENT_SECRET: issuer.clientSecret,
        STRATA_PORTAL_OIDC_PARTNER_CLAIM: PARTNER_CLAIM,
        STRATA_PORTAL_OIDC_LABEL: 'Example Council login',
      }),
    });
  });
  afterAll(async () => issuer?.close());

  const request = (path: string, init: RequestInit = {}) =>
    app.request(path.startsWith('http') ? path : `${BASE}${path}`, { redirect: 'manual', ...init });

  /** Starts a sign-in as the page's button does; follows the issuer's redirects, its cookies kept, back to us. */
  async function throughIssuer(
    next = '/portal/datasets',
  ): Promise<{ flight: string; callback: URL; started: Response }> {
    const form = formToken(await (await request('/portal/login')).text());
    const started = await request('/portal/login/oidc', {
      method: 'POST',
      headers: { origin: BASE, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ form, next }).toString(),
    });
    const jar = new Map<string, string>();
    let at = new URL(started.headers.get('location')!);
    for (let hops = 0; at.origin === issuer.issuer && hops < 10; hops++) {
      const res = await fetch(at, {
        redirect: 'manual',
        headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
      });
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const eq = pair!.indexOf('=');
        jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
      }
      at = new URL(res.headers.get('location')!, at);
    }
    return { flight: cookieOf(started, 'strata_portal_oidc')!, callback: at, started };
  }

  it('signs a person in through the provider, with PKCE, as the partner their claim names', async () => {
    // Prepare
    issuer.signInAs('ann', { email: 'ann@example.org', [PARTNER_CLAIM]: 'acme' });
    // Act
    const login = await (await request('/portal/login')).text();
    const { flight, callback, started } = await throughIssuer('/portal/datasets');
    const back = await request(callback.href, { headers: { cookie: flight } });
    const session = cookieOf(back, 'strata_portal')!;
    const page = await (await request('/portal/datasets', { headers: { cookie: session } })).text();
    // Assess
    expect(login).toContain('Sign in with Example Council login');
    const asked = new URL(started.headers.get('location')!);
    expect(asked.origin).toBe(issuer.issuer);
    expect(asked.searchParams.get('code_challenge_method')).toBe('S256');
    expect(asked.searchParams.get('redirect_uri')).toBe(`${BASE}/portal/login/oidc/callback`);
    expect(started.headers.getSetCookie().join()).toMatch(
      /strata_portal_oidc=[^;]+; Max-Age=600; Path=\/portal\/login\/oidc\/callback; HttpOnly; SameSite=Lax/,
    );
    expect(callback.pathname).toBe('/portal/login/oidc/callback');
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe('/portal/datasets');
    expect(page).toContain('Signed in as <strong>ann@example.org</strong> for <strong>acme</strong>');
    expect(page).toContain('/portal/datasets/roads"');
  });

  it('refuses a login that names a partner nobody knows, or none', async () => {
    // Act
    issuer.signInAs('bob', { email: 'bob@example.org', [PARTNER_CLAIM]: 'globex' });
    const unknown = await throughIssuer();
    const unknownBack = await request(unknown.callback.href, { headers: { cookie: unknown.flight } });
    issuer.signInAs('cy', { email: 'cy@example.org' });
    const none = await throughIssuer();
    const noneBack = await request(none.callback.href, { headers: { cookie: none.flight } });
    // Assess
    expect(unknownBack.status).toBe(403);
    expect(await unknownBack.text()).toContain(
      'names partner &quot;globex&quot;, which this data store does not know',
    );
    expect(cookieOf(unknownBack, 'strata_portal')).toBeUndefined();
    expect(noneBack.status).toBe(403);
    expect(await noneBack.text()).toContain(`its &quot;${PARTNER_CLAIM}&quot; claim`);
  });

  it('refuses a callback it did not start, and one whose state was changed', async () => {
    // Prepare
    issuer.signInAs('ann', { email: 'ann@example.org', [PARTNER_CLAIM]: 'acme' });
    const first = await throughIssuer();
    const second = await throughIssuer();
    const changed = new URL(second.callback);
    changed.searchParams.set('state', 'not-the-state');
    // Act
    const noFlight = await request(first.callback.href);
    const wrongState = await request(changed.href, { headers: { cookie: second.flight } });
    // Assess
    expect(noFlight.status).toBe(401);
    expect(await noFlight.text()).toContain('this sign-in was not started here');
    expect(wrongState.status).toBe(401);
    expect(cookieOf(wrongState, 'strata_portal')).toBeUndefined();
  });

  it('names what is missing when the environment half configures it', () => {
    // Act / Assess
    expect(portalSignInFromEnv({})).toBeUndefined();
    expect(() => portalSignInFromEnv({ STRATA_PORTAL_OIDC_ISSUER: 'https://login.example.org' })).toThrow(
      /set STRATA_PORTAL_OIDC_CLIENT_ID and STRATA_PORTAL_OIDC_PARTNER_CLAIM too/,
    );
  });
});
