// An OpenID Connect issuer for tests, by oidc-provider: one confidential client for the portal, and people who
// sign in at once (no login form to fill in) with the claims the test gives them: what an organisation's
// provider does once its user has typed their password.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Configuration } from 'oidc-provider';

export interface TestIssuer {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Who signs in next, by subject, with their claims (the partner claim among them). */
  signInAs(sub: string, claims: Record<string, unknown>): void;
  close(): Promise<void>;
}

export const PARTNER_CLAIM = 'strata_partner';

/** Starts an issuer on 127.0.0.1 that accepts the portal's callback at `redirectUris`. */
export async function startTestIssuer(redirectUris: string[]): Promise<TestIssuer> {
  const accounts = new Map<string, Record<string, unknown>>();
  let next = 'nobody';
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const configuration: Configuration = {
    clients: [
      {
        client_id: 'strata-portal',
        client_secret: 'portal-test-secret',
        redirect_uris: redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email'], profile: ['name', PARTNER_CLAIM] },
    conformIdTokenClaims: false,
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, ...(accounts.get(sub) ?? {}) }),
    }),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
    cookies: { keys: ['test-cookie-key'] },
  };
  const provider = new Provider(issuer, configuration);
  // Every interaction ends at once: the login as the person set by signInAs, the consent to what is asked.
  provider.use(async (ctx, nextMiddleware) => {
    if (!ctx.path.startsWith('/interaction/')) return nextMiddleware();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    let result: Record<string, unknown>;
    if (details.prompt.name === 'login') result = { login: { accountId: next } };
    else {
      const grant = new provider.Grant({
        accountId: details.session!.accountId,
        clientId: String(details.params.client_id),
      });
      grant.addOIDCScope(String(details.params.scope));
      result = { consent: { grantId: await grant.save() } };
    }
    ctx.status = 303;
    ctx.redirect(
      await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true }),
    );
  });
  server.on('request', provider.callback());
  return {
    issuer,
    clientId: 'strata-portal',
    clientSecret: 'portal-test-secret',
    signInAs(sub, claims) {
      accounts.set(sub, claims);
      next = sub;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
