import { html } from 'hono/html';
import type { Html } from '../../web/format.ts';
import type { View } from '../../web/pages.ts';
import { formField, to } from '../layout.ts';

/** The sign-in page: the organisation's login when one is configured, and an API key as the fallback. */
export function loginPage(v: View, next: string, problem?: string, oidc?: { name: string }): Html {
  return html`<h1>Sign in to the partner portal</h1>
<p>Send your organisation's files and download the data products you may read.</p>
${problem ? html`<div class="notice bad" role="alert">${problem}</div>` : ''}
${
  oidc
    ? html`<h2>With your organisation's login</h2>
<form class="act" method="post" action="${to(v, '/login/oidc')}">
${formField(v)}<input type="hidden" name="next" value="${next}">
<button type="submit">Sign in with ${oidc.name}</button>
</form>
<h2>With an API key</h2>`
    : ''
}
<p>Paste an API key your data team gave your organisation. The key is checked and not kept: the portal gives your browser a session of its own, for eight hours, that ends when the key is revoked.</p>
<form class="act" method="post" action="${to(v, '/login')}">
${formField(v)}<input type="hidden" name="next" value="${next}">
<div><label for="key">API key</label><input class="wide" type="password" id="key" name="key" required autocomplete="off" spellcheck="false"></div>
<button type="submit">Sign in</button>
</form>`;
}
