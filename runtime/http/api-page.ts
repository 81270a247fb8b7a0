/**
 * The API's documentation as a page (OGC's `service-doc`): every route with its summary, parameters and
 * answers, rendered on the server from the OpenAPI document the app generates, so it cannot drift from the
 * routes and needs no script or asset from elsewhere (the console's policy forbids both).
 */

interface Operation {
  readonly summary?: string;
  readonly description?: string;
  readonly parameters?: readonly { name: string; in: string; required?: boolean; description?: string }[];
  readonly responses?: Record<string, { description?: string }>;
  readonly tags?: readonly string[];
}

interface Document {
  readonly info: { title: string; version: string; description?: string };
  readonly paths?: Record<string, Record<string, Operation>>;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete'];

export function apiPage(doc: Document, openApiHref: string): string {
  const rows = Object.entries(doc.paths ?? {})
    .flatMap(([path, ops]) =>
      METHODS.filter((m) => ops[m]).map((m) => {
        const op = ops[m]!;
        const params = (op.parameters ?? [])
          .map(
            (p) =>
              `<li><code>${escapeHtml(p.name)}</code> (${escapeHtml(p.in)}${p.required ? ', required' : ''})${p.description ? `: ${escapeHtml(p.description)}` : ''}</li>`,
          )
          .join('');
        const answers = Object.entries(op.responses ?? {})
          .map(([status, r]) => `<code>${escapeHtml(status)}</code> ${escapeHtml(r.description ?? '')}`)
          .join('; ');
        return `<section><h3><code>${m.toUpperCase()} ${escapeHtml(path)}</code></h3><p>${escapeHtml(op.summary ?? '')}</p>${
          params ? `<ul>${params}</ul>` : ''
        }<p class="answers">${answers}</p></section>`;
      }),
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(doc.info.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}
h3{font-size:1rem;margin-bottom:.2rem}section{border-top:1px solid #ddd;padding:.3rem 0}.answers{color:#555}</style>
</head><body>
<h1>${escapeHtml(doc.info.title)} <small>${escapeHtml(doc.info.version)}</small></h1>
<p>${escapeHtml(doc.info.description ?? '')}</p>
<p>The machine-readable definition: <a href="${escapeHtml(openApiHref)}">OpenAPI 3.0</a>.</p>
${rows}
</body></html>
`;
}
