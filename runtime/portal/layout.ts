import { createHash } from 'node:crypto';
import { html, raw } from 'hono/html';
import type { Principal } from '../web/context.ts';
import type { Door } from '../web/door.ts';
import type { Html } from '../web/format.ts';
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

export interface View {
  readonly door: Door;
  readonly principal?: Principal;
  readonly signingKey: string;
}

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

/** A whole page: skip link, banner with navigation, the main content, a live region for the script. */
export async function page(
  v: View,
  opts: { title: string; section?: Section; body: Html; signedOut?: boolean },
): Promise<string> {
  const nav = opts.signedOut
    ? html``
    : html`<nav aria-label="Portal"><ul>${NAV.map(
        ([id, label, path]) =>
          html`<li><a href="${to(v, path)}"${opts.section === id ? raw(' aria-current="page"') : ''}>${label}</a></li>`,
      )}</ul></nav>`;
  const doc = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${opts.title} · Strata partner portal</title>
<style>${raw(CSS)}</style>
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="top"><div class="bar">
<a class="brand" href="${to(v)}">Strata <span>partner portal</span></a>
${nav}
<div class="who">${who(v)}</div>
</div></header>
<main id="main" tabindex="-1">
${opts.body}
</main>
<div id="live" class="vh" role="status" aria-live="polite"></div>
<script>${raw(PORTAL_SCRIPT)}</script>
</body>
</html>`;
  return String(await doc);
}
