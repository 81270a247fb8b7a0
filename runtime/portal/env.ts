// Names only, so the CDK construct that sets them imports nothing else of the portal.

/** The environment variables that name the organisation's provider (`strata serve`, the partner API's Lambda). */
export const PORTAL_OIDC_ENV = {
  issuer: 'STRATA_PORTAL_OIDC_ISSUER',
  clientId: 'STRATA_PORTAL_OIDC_CLIENT_ID',
  clientSecret: 'STRATA_PORTAL_OIDC_CLIENT_SECRET',
  partnerClaim: 'STRATA_PORTAL_OIDC_PARTNER_CLAIM',
  label: 'STRATA_PORTAL_OIDC_LABEL',
} as const;
