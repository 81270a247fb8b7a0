import { createHash } from 'node:crypto';
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { Principal } from '../web/context.ts';
import type { Door } from '../web/door.ts';
import { consolePath, formToken } from './session.ts';

/** A piece of the page, escaped where it was made: `html` templates escape every value put into them. */
export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/**
 * The console's only stylesheet, inlined (no request for it). Colours keep text at WCAG AA contrast or
 * better; focus is a thick dark outline on a yellow ground that no background hides.
 */
const CSS = `
:root{--ink:#1b1f24;--muted:#555e68;--line:#d0d7de;--soft:#f6f8fa;--accent:#0a58a8;--ok:#116329;--bad:#a4221b;--warn:#7a4d00;--info:#0a58a8}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#fff}
a{color:var(--accent);text-underline-offset:2px}
a:hover{text-decoration-thickness:2px}
:focus-visible{outline:3px solid var(--ink);outline-offset:2px;background-color:#ffdd57;color:var(--ink)}
button:focus-visible{background-color:#ffdd57;color:var(--ink)}
.skip{position:absolute;left:-10000px;top:auto}
.skip:focus{left:1rem;top:.5rem;padding:.5rem 1rem;z-index:10}
.top{background:#0d2b45;color:#fff}
.top .bar{max-width:1320px;margin:0 auto;padding:.55rem 1.5rem;display:flex;gap:2rem;align-items:center;flex-wrap:wrap}
.top a{color:#fff}
.brand{font-weight:700;font-size:1.1rem;text-decoration:none;letter-spacing:.01em}
.brand span{font-weight:400;opacity:.85}
.top nav ul{list-style:none;margin:0;padding:0;display:flex;gap:1.4rem}
.top nav a{text-decoration:none;padding:.2rem 0}
.top nav a[aria-current=page]{text-decoration:underline;text-decoration-thickness:3px;text-underline-offset:8px}
.who{margin-left:auto;font-size:.88rem;display:flex;gap:.75rem;align-items:center}
.who form{margin:0}
.who button{background:transparent;border:1px solid #9fb3c8;color:#fff;height:auto;padding:.15rem .6rem;font-size:.85rem}
main{max-width:1320px;margin:0 auto;padding:1.25rem 1.5rem 3rem}
h1{font-size:1.55rem;margin:.25rem 0 .9rem;line-height:1.25}
h1 .sub{display:block;font-size:.95rem;font-weight:400;color:var(--muted)}
h2{font-size:1.2rem;margin:2rem 0 .6rem;padding-bottom:.3rem;border-bottom:1px solid var(--line)}
h3{font-size:1.02rem;margin:1.25rem 0 .4rem}
p{margin:.4rem 0 .8rem;max-width:75ch}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.25rem 0 1rem;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.2rem 0 .45rem;color:var(--muted)}
th,td{text-align:left;padding:.42rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
thead th{background:var(--soft);font-weight:600;border-bottom:2px solid var(--line);white-space:nowrap}
tbody th{font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.current td,tr.current th{background:#f0f7ff}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em}
td code,th code{white-space:nowrap}
td.cause{min-width:12rem;max-width:28rem}
.nowrap{white-space:nowrap}
.badge{display:inline-block;padding:0 .5rem;border-radius:999px;font-size:.78rem;font-weight:600;border:1px solid;line-height:1.5;white-space:nowrap;vertical-align:1px}
.badge.ok{color:var(--ok);background:#e3f6e8;border-color:#9fd8ae}
.badge.bad{color:var(--bad);background:#fdecea;border-color:#f0aca6}
.badge.warn{color:var(--warn);background:#fff4d6;border-color:#e8c36a}
.badge.info{color:var(--info);background:#e8f1fb;border-color:#a8c8ea}
.badge.neutral{color:var(--muted);background:var(--soft);border-color:var(--line)}
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
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1.5rem;margin:0 0 1rem}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0}
.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(11rem,1fr));gap:.8rem;margin:.5rem 0 1.25rem;padding:0;list-style:none}
.stats li{border:1px solid var(--line);border-radius:8px;padding:.6rem .9rem}
.stats .n{display:block;font-size:1.5rem;font-weight:700;line-height:1.2}
.stats .n.bad{color:var(--bad)}
.card{border:1px solid var(--line);border-radius:8px;padding:.25rem 1.1rem .9rem;margin:1rem 0}
.card h3{margin-top:.8rem}
form.filters{display:flex;gap:1rem;align-items:flex-end;flex-wrap:wrap;margin:.5rem 0 1rem}
form.act{display:flex;gap:.6rem;align-items:flex-end;flex-wrap:wrap;margin:.5rem 0}
label{font-weight:600;display:block;font-size:.88rem;margin-bottom:.2rem}
input[type=text],input[type=password],select{font:inherit;height:2.3rem;padding:0 .5rem;border:1px solid #6e7781;border-radius:4px;background:#fff;color:var(--ink)}
input.wide{min-width:26rem;max-width:100%}
button{font:inherit;font-weight:600;height:2.3rem;padding:0 .95rem;border-radius:6px;border:1px solid #08477f;background:var(--accent);color:#fff;cursor:pointer}
button.quiet{background:#fff;color:var(--accent);border-color:var(--accent)}
.notice{padding:.65rem 1rem;border-left:4px solid var(--accent);background:#eef5fc;margin:1rem 0;max-width:75ch}
.notice.bad{border-color:var(--bad);background:#fdecea}
.notice.ok{border-color:var(--ok);background:#e3f6e8}
.muted{color:var(--muted)}
.links{margin:0;padding:0;list-style:none}
.links li{margin:.1rem 0}
.sep{color:var(--muted);padding:0 .3rem}
.vh{position:absolute!important;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
ul.problems{margin:.2rem 0;padding-left:1.1rem}
`;

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

export type Section = 'overview' | 'datasets' | 'products' | 'graph' | 'runs';

export interface View {
  readonly door: Door;
  readonly principal?: Principal;
  readonly signingKey: string;
}

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
];

/** A whole page: skip link, banner with navigation, the main content, a live region for the script. */
export async function page(
  v: View,
  opts: { title: string; section?: Section; body: Html; signedOut?: boolean },
): Promise<string> {
  const nav = opts.signedOut
    ? html``
    : html`<nav aria-label="Console"><ul>${NAV.map(
        ([id, label, path]) =>
          html`<li><a href="${to(v, path)}"${opts.section === id ? raw(' aria-current="page"') : ''}>${label}</a></li>`,
      )}</ul></nav>`;
  const doc = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${opts.title} · Strata console</title>
<style>${raw(CSS)}</style>
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="top"><div class="bar">
<a class="brand" href="${to(v)}">Strata <span>console</span></a>
${nav}
<div class="who">${who(v)}</div>
</div></header>
<main id="main" tabindex="-1">
${opts.body}
</main>
<div id="live" class="vh" role="status" aria-live="polite"></div>
<script>${raw(SCRIPT)}</script>
</body>
</html>`;
  return String(await doc);
}
