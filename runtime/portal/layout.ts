import { createHash } from 'node:crypto';
import { html } from 'hono/html';
import type { Door } from '../web/door.ts';
import type { Html } from '../web/format.ts';
import { framedPage, type View } from '../web/pages.ts';
import { formToken } from '../web/session.ts';
import { PAGE_CSS } from '../web/style.ts';
import { PORTAL_SCRIPT } from './client-script.ts';
import { PORTAL, portalTo } from './realm.ts';

/** The portal's few additions to the shared stylesheet: the drop zone, the progress bar, copy buttons. */
const CSS = `${PAGE_CSS}
.drop{border:2px dashed #6e7781;border-radius:8px;padding:1.2rem;margin:.6rem 0;max-width:40rem}
.drop.over{border-color:var(--accent);background:#eef5fc}
progress{width:100%;max-width:40rem;height:1.1rem}
.copy{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}
.copy code{background:var(--soft);padding:.2rem .4rem;border-radius:4px;word-break:break-all;white-space:normal}
button.small{height:1.9rem;padding:0 .6rem;font-size:.85rem}
`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * Nothing but the page's own style and script (by hash), requests to itself and to where uploads go (the
 * ingress bucket's presigned URLs: this server locally, S3's endpoint on AWS), forms to itself (and, on the
 * sign-in page, on to the organisation's login); never framed, no base to redirect relative links.
 */
export function portalCsp(uploadOrigin: string | undefined, signInOrigin?: string): string {
  return [
    "default-src 'none'",
    `style-src ${hash(CSS)}`,
    `script-src ${hash(PORTAL_SCRIPT)}`,
    `connect-src 'self'${uploadOrigin ? ` ${uploadOrigin}` : ''}`,
    "img-src 'self' data:",
    `form-action 'self'${signInOrigin ? ` ${signInOrigin}` : ''}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** Headers of every portal page besides its policy: nothing kept in caches (a partner's own data). */
export const PAGE_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

export type Section = 'home' | 'send' | 'download';

export const to = (v: { door: Door }, path = '') => portalTo(v.door, path);

/** The hidden input a form needs to be accepted (see runtime/web/session.ts). */
export const formField = (v: View): Html =>
  html`<input type="hidden" name="form" value="${formToken(PORTAL, v.signingKey, v.principal)}">`;

function who(v: View): Html {
  const p = v.principal;
  if (!p) return html``;
  return html`<span>Signed in${p.user ? html` as <strong>${p.user}</strong>` : ''} for <strong>${p.partner}</strong></span>
<form method="post" action="${to(v, '/logout')}">${formField(v)}<button type="submit">Sign out</button></form>`;
}

const NAV: [Section, string, string][] = [
  ['home', 'Your data', ''],
  ['send', 'Send data', '/datasets'],
  ['download', 'Download', '/products'],
];

/** A whole page of the portal. */
export function page(
  v: View,
  opts: { title: string; section?: Section; body: Html; signedOut?: boolean },
): Promise<string> {
  const links = NAV.map(([id, text, path]) => ({ href: to(v, path), text, current: opts.section === id }));
  return framedPage({
    title: opts.title,
    door: 'partner portal',
    home: to(v),
    ...(opts.signedOut ? {} : { nav: { label: 'Portal', links } }),
    who: who(v),
    body: opts.body,
    css: CSS,
    script: PORTAL_SCRIPT,
  });
}
