import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { html, raw } from 'hono/html';
import type { AppEnv, Principal } from './context.ts';
import type { Door } from './door.ts';
import type { Html } from './format.ts';

/*
 * What the two browser doors (the operators' console and the partners' portal) share of a server-rendered
 * page: who is asking, how a page route is documented, and the page's frame. Each door keeps its own
 * stylesheet, script, navigation and session realm.
 */

/** Who a page is rendered for, and what its forms are signed with. */
export interface View {
  readonly door: Door;
  readonly principal?: Principal;
  readonly signingKey: string;
}

export const view = (c: Context<AppEnv>): View => ({
  door: c.get('door'),
  principal: c.get('principal'),
  signingKey: c.get('signingKey'),
});

export const htmlPage = (description: string) => ({
  description,
  content: { 'text/html': { schema: z.string().openapi({ description: 'an HTML page' }) } },
});
export const htmlProblems = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, htmlPage(`the problem, as a page (${s})`)]));
export const seeOther = (description: string) => ({ 303: { description } });
export const toSignIn = { 303: { description: 'to sign in' } };

/** A form's body: its fields, and the form token every form carries (see session.ts). */
export const form = <T extends z.ZodRawShape>(fields: T) => ({
  body: {
    required: true,
    content: {
      'application/x-www-form-urlencoded': {
        schema: z.object({
          form: z.string().max(2000).openapi({ description: "the form's token, as the page gave it" }),
          ...fields,
        }),
      },
    },
  },
});

/** A door's whole page, as the door describes it. */
export interface PageFrame {
  readonly title: string;
  /** The door's name after "Strata" in the banner and the title (`console`, `partner portal`). */
  readonly door: string;
  readonly home: string;
  readonly nav?: {
    readonly label: string;
    readonly links: readonly { href: string; text: string; current: boolean }[];
  };
  readonly who: Html;
  readonly body: Html;
  /** The inline stylesheet and script, each allowed by the door's CSP by its hash. */
  readonly css: string;
  readonly script: string;
}

/** A whole page: skip link, banner with navigation, the main content, a live region for the script. */
export async function framedPage(f: PageFrame): Promise<string> {
  const nav = f.nav
    ? html`<nav aria-label="${f.nav.label}"><ul>${f.nav.links.map(
        (l) =>
          html`<li><a href="${l.href}"${l.current ? raw(' aria-current="page"') : ''}>${l.text}</a></li>`,
      )}</ul></nav>`
    : html``;
  const doc = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${f.title} · Strata ${f.door}</title>
<style>${raw(f.css)}</style>
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="top"><div class="bar">
<a class="brand" href="${f.home}">Strata <span>${f.door}</span></a>
${nav}
<div class="who">${f.who}</div>
</div></header>
<main id="main" tabindex="-1">
${f.body}
</main>
<div id="live" class="vh" role="status" aria-live="polite"></div>
<script>${raw(f.script)}</script>
</body>
</html>`;
  return String(await doc);
}
