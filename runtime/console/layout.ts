import { createHash } from 'node:crypto';
import { html } from 'hono/html';
import type { Door } from '../web/door.ts';
import type { Html } from '../web/format.ts';
import { framedPage, type View } from '../web/pages.ts';
import { PAGE_CSS } from '../web/style.ts';
import { consolePath, formToken } from './session.ts';

export type { Html };

/** The lineage graph's boxes, arrows and legend: the console's alone, added to the pages' stylesheet. */
const GRAPH_CSS = `
.graph-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:8px;margin:.5rem 0 1rem;background:#fff}
svg.graph{display:block;font:13px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
.g-node rect{stroke-width:1.5}
.g-node .g-name{font-weight:700;fill:var(--ink)}
.g-node .g-detail{fill:#3d454e;font-size:12px}
.g-node:focus-visible{outline:none}
.g-node:focus-visible rect,.g-node:hover rect{stroke:var(--ink);stroke-width:3.5}
.g-ok rect,.swatch.g-ok{fill:#e3f6e8;stroke:#2f8a4a;background:#e3f6e8;border-color:#2f8a4a}
.g-bad rect,.swatch.g-bad{fill:#fdecea;stroke:var(--bad);background:#fdecea;border-color:var(--bad)}
.g-warn rect,.swatch.g-warn{fill:#fff4d6;stroke:#b07a00;background:#fff4d6;border-color:#b07a00}
.g-neutral rect,.swatch.g-neutral{fill:var(--soft);stroke:#8c959f;background:var(--soft);border-color:#8c959f}
.g-info rect{fill:#e8f1fb;stroke:var(--info)}
.g-node.g-failed rect{stroke:var(--bad);stroke-width:3.5;stroke-dasharray:7 4}
.swatch.g-failed{background:#fff;border:3px dashed var(--bad)}
.g-edge{fill:none;stroke:#6e7781;stroke-width:1.6}
.g-edge.g-pinned{stroke-dasharray:5 4}
.g-arrow{fill:#6e7781}
.legend{display:flex;flex-wrap:wrap;gap:.4rem 1.4rem;list-style:none;padding:0;margin:.4rem 0;font-size:.88rem}
.legend li{display:flex;align-items:center;gap:.45rem}
.swatch{display:inline-block;width:1.5rem;height:1rem;border:2px solid;border-radius:3px}
`;
const CSS = PAGE_CSS + GRAPH_CSS;

/**
 * The console's only script, inlined: on the page of a run still queued or running, it looks at the page
 * again every two seconds and, once the status has changed, puts the new page's content in place and says so
 * in a live region (screen readers announce it). Pages work without it; it saves pressing reload.
 */
const SCRIPT = `(() => {
  const watched = () => document.querySelector('[data-watch-status]');
  const live = document.getElementById('live');
  if (!watched() || !live) return;
  const busy = (s) => s === 'queued' || s === 'running';
  if (!busy(watched().getAttribute('data-watch-status'))) return;
  let left = 1800;
  const look = async () => {
    if (--left < 0) return;
    try {
      const res = await fetch(location.href, { headers: { accept: 'text/html' }, cache: 'no-store', credentials: 'same-origin' });
      if (res.ok) {
        const next = new DOMParser().parseFromString(await res.text(), 'text/html');
        const was = watched().getAttribute('data-watch-status');
        const now = next.querySelector('[data-watch-status]')?.getAttribute('data-watch-status');
        const main = document.querySelector('main');
        const fresh = next.querySelector('main');
        if (now && now !== was && main && fresh) {
          main.replaceChildren(...fresh.childNodes);
          live.textContent = 'Status now: ' + now + '.';
          if (!busy(now)) return;
        }
      }
    } catch {}
    setTimeout(look, 2000);
  };
  setTimeout(look, 2000);
})();`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * Nothing but the page's own inline style and script (by hash), requests to itself, forms to itself; never
 * framed (the buttons act), no base to redirect relative links.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  `style-src ${hash(CSS)}`,
  `script-src ${hash(SCRIPT)}`,
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers of every console page: its policy, and nothing kept in caches (operators' data). */
export const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

export type Section = 'overview' | 'datasets' | 'products' | 'graph' | 'runs' | 'notifications';

/** A console path as the client reaches it (`/v1/console/...` behind API Gateway's stage). */
export const to = (v: { door: Door }, path = '') => `${consolePath(v.door)}${path}`;

/** The hidden input a form needs to be accepted (see session.ts). */
export const formField = (v: View): Html =>
  html`<input type="hidden" name="form" value="${formToken(v.signingKey, v.principal)}">`;

function who(v: View): Html {
  const p = v.principal;
  if (!p) return html``;
  if (p.via === 'loopback') return html`<span>Operator at this machine (127.0.0.1)</span>`;
  if (p.via === 'session')
    return html`<span>Signed in as <strong>${p.partner}</strong></span>
      <form method="post" action="${to(v, '/logout')}">${formField(v)}<button type="submit">Sign out</button></form>`;
  return html`<span>${p.partner} (${p.via === 'hawk' ? 'Hawk' : 'API key'})</span>`;
}

const NAV: [Section, string, string][] = [
  ['overview', 'Overview', ''],
  ['datasets', 'Datasets', '/datasets'],
  ['products', 'Products', '/products'],
  ['graph', 'Lineage', '/graph'],
  ['runs', 'Runs', '/runs'],
  ['notifications', 'Notifications', '/notifications'],
];

/** A whole page of the console. */
export function page(
  v: View,
  opts: { title: string; section?: Section; body: Html; signedOut?: boolean },
): Promise<string> {
  const links = NAV.map(([id, text, path]) => ({ href: to(v, path), text, current: opts.section === id }));
  return framedPage({
    title: opts.title,
    door: 'console',
    home: to(v),
    ...(opts.signedOut ? {} : { nav: { label: 'Console', links } }),
    who: who(v),
    body: opts.body,
    css: CSS,
    script: SCRIPT,
  });
}
