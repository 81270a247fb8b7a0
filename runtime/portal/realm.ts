import type { Door } from '../web/door.ts';
import { realmPath, type SessionRealm } from '../web/session.ts';

/**
 * The portal's sessions (runtime/web/session.ts says how they work): any partner's staff, under /portal,
 * with a cookie and token purposes of their own, so a portal session never opens the console, nor the other
 * way round. What a signed-in person may see and do is their partner's scopes, as the partner API enforces.
 */
export const PORTAL: SessionRealm = {
  name: 'portal',
  cookie: 'strata_portal',
  mount: '/portal',
  admits: () => true,
};

/** A portal path as the client reaches it (`/v1/portal/...` behind API Gateway's stage). */
export const portalTo = (door: Door, path = '') => `${realmPath(PORTAL, door)}${path}`;
