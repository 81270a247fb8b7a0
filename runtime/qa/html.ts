import { PLATFORM_VERSION } from '../version.ts';
import type { ReportAssets } from './assets.ts';
import { changesBar, historyChart } from './charts.ts';
import { area, count, type Delta, decimal, delta, escapeHtml as esc, length, scriptJson } from './format.ts';
import type { MapLayer } from './map.ts';
import { PALETTE } from './palette.ts';
import type { ColumnStats, GeometryStats, OutputQa, QaReport } from './schema.ts';
import { STYLES } from './styles.ts';

const deltaHtml = (d: Delta | undefined): string =>
  d ? `<span class="delta ${d.direction}">${esc(d.text)}</span>` : '';

function value(v: unknown): string {
  if (v === null || v === undefined) return '<span class="null">null</span>';
  if (typeof v === 'object') return `<code>${esc(JSON.stringify(v))}</code>`;
  return esc(v);
}

/** A table of sample rows: every column seen in them, in the order first seen. */
function rowsTable(rows: readonly Record<string, unknown>[], caption: string): string {
  if (rows.length === 0) return '';
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return `<div class="table-wrap"><table class="rows"><caption>${caption}</caption>
<thead><tr>${columns.map((c) => `<th scope="col">${esc(c)}</th>`).join('')}</tr></thead>
<tbody>${rows.map((r) => `<tr>${columns.map((c) => `<td>${value(r[c])}</td>`).join('')}</tr>`).join('\n')}</tbody></table></div>`;
}

function header(r: QaReport): string {
  const title = r.title ?? r.product;
  const status =
    r.status === 'published'
      ? `<p class="status ok"><span class="badge pass">Published</span> version <code>${esc(r.version)}</code></p>`
      : `<p class="status bad"><span class="badge fail">Not published</span> this build failed its checks; the report is kept with run <code>${esc(r.runId)}</code> so a reviewer can see why</p>`;
  const compared = r.previous
    ? `version <code>${esc(r.previous.version)}</code> (${esc(r.previous.builtAt.replace('T', ' ').slice(0, 16))} UTC)`
    : 'nothing: the first version';
  return `<header class="top"><div class="inner">
<p class="eyebrow">Strata QA report</p>
<h1>${esc(title)}${r.title ? ` <span class="product">${esc(r.product)}</span>` : ''}</h1>
${status}
<dl class="meta">
<div><dt>Built</dt><dd>${esc(r.builtAt.replace('T', ' ').slice(0, 19))} UTC</dd></div>
<div><dt>Run</dt><dd><code>${esc(r.runId)}</code></dd></div>
<div><dt>Compared with</dt><dd>${compared}</dd></div>
</dl></div></header>`;
}

function summary(r: QaReport): string {
  const passed = r.checks.filter((c) => c.passed).length;
  const warned = r.checks.filter((c) => !c.passed && c.severity === 'warn').length;
  const failed = r.checks.filter((c) => !c.passed && c.severity === 'error').length;
  const outputCards = r.outputs
    .map((o) => {
      const c = o.changes;
      const parts = c
        ? `<ul class="mini">
<li><span class="swatch" style="background:${PALETTE.added}"></span>${count(c.added)} added</li>
<li><span class="swatch" style="background:${PALETTE.removed}"></span>${count(c.removed)} removed</li>
<li><span class="swatch" style="background:${PALETTE.changed}"></span>${c.changed === null ? 'changed: not told' : `${count(c.changed)} changed`}</li></ul>`
        : `<p class="muted">${r.previous ? 'not compared' : 'first version'}</p>`;
      return `<a class="card" href="#output-${esc(o.name)}"><span class="label">${esc(o.name)}</span>
<span class="big">${count(o.current.rows)}</span> <span class="unit">rows</span> ${deltaHtml(delta(o.current.rows, o.previous?.rows))}${parts}</a>`;
    })
    .join('\n');
  const checkCard = `<a class="card" href="#checks"><span class="label">checks</span>
<span class="big">${passed}/${r.checks.length}</span> <span class="unit">passed</span>
<ul class="mini"><li><span class="badge warn">${warned}</span> warned</li><li><span class="badge fail">${failed}</span> failed</li></ul></a>`;
  return `<section aria-labelledby="summary-h"><h2 id="summary-h">Summary</h2>
<div class="cards">${outputCards}\n${checkCard}</div>${inputs(r)}</section>`;
}

/** What the build read, each at its exact version; an upstream product's version links to its own report. */
function inputs(r: QaReport): string {
  if (!r.inputs?.length) return '';
  const items = r.inputs.map((i) => {
    const what =
      i.kind === 'product'
        ? `product <code>${esc(i.name)}</code>, output <code>${esc(i.output ?? '')}</code>`
        : `dataset <code>${esc(i.name)}</code>`;
    const version = i.qa
      ? `<a href="${esc(i.qa)}"><code>${esc(i.version)}</code></a> (its QA report)`
      : `<code>${esc(i.version)}</code>`;
    return `<li><code>${esc(i.alias)}</code>: ${what}, version ${version}</li>`;
  });
  return `<h3 id="inputs-h">Read from</h3><ul class="inputs" aria-labelledby="inputs-h">${items.join('')}</ul>`;
}

function checks(r: QaReport): string {
  if (r.checks.length === 0)
    return `<section id="checks" aria-labelledby="checks-h"><h2 id="checks-h">Checks</h2><p>This product declares no checks.</p></section>`;
  const rows = r.checks
    .map((c) => {
      const badge = c.passed
        ? '<span class="badge pass">pass</span>'
        : c.severity === 'warn'
          ? '<span class="badge warn">warning</span>'
          : '<span class="badge fail">failed</span>';
      const sample =
        !c.passed && c.sample.length > 0
          ? `<tr class="sample"><td></td><td colspan="3"><details><summary>${c.sample.length} of ${count(c.count)} offending row(s)</summary>${rowsTable(c.sample, `Offending rows of ${esc(c.name)}`)}</details></td></tr>`
          : '';
      return `<tr><td>${badge}</td><th scope="row">${esc(c.name)}</th><td><code>${esc(c.table)}</code></td><td>${esc(c.message)}</td></tr>${sample}`;
    })
    .join('\n');
  const passed = r.checks.filter((c) => c.passed).length;
  return `<section id="checks" aria-labelledby="checks-h"><h2 id="checks-h">Checks</h2>
<div class="table-wrap"><table><caption>${r.checks.length} check(s): ${passed} passed, ${r.checks.length - passed} did not</caption>
<thead><tr><th scope="col">Result</th><th scope="col">Check</th><th scope="col">Table</th><th scope="col">What it found</th></tr></thead>
<tbody>${rows}</tbody></table></div></section>`;
}

function figures(o: OutputQa): string {
  const c = o.changes;
  const item = (label: string, v: string, extra = '', color?: string) =>
    `<div><dt>${color ? `<span class="swatch" style="background:${color}"></span>` : ''}${label}</dt><dd>${v}${extra}</dd></div>`;
  const list = [item('Rows', count(o.current.rows), deltaHtml(delta(o.current.rows, o.previous?.rows)))];
  if (c) {
    list.push(
      item('Added', count(c.added), '', PALETTE.added),
      item('Removed', count(c.removed), '', PALETTE.removed),
      item(
        'Changed',
        c.changed === null ? '<span class="muted">not told</span>' : count(c.changed),
        '',
        PALETTE.changed,
      ),
      item(
        'Unchanged',
        c.unchanged === null ? '<span class="muted">not told</span>' : count(c.unchanged),
        '',
        '#c9d6e6',
      ),
    );
  }
  const bar = c
    ? changesBar(
        c,
        `Rows against the previous version: ${count(c.added)} added, ${count(c.removed)} removed, ${c.changed === null ? 'changed not told' : `${count(c.changed)} changed`}`,
      )
    : '';
  return `<dl class="figures">${list.join('')}</dl>${bar}`;
}

function samples(o: OutputQa, r: QaReport): string {
  const c = o.changes;
  if (!c) return '';
  const prev = r.previous ? `version <code>${esc(r.previous.version)}</code>` : 'the previous version';
  const keyName = o.key ? o.key.map(esc).join(', ') : 'row';
  const parts = [
    c.samples.changed.length > 0 && c.changed !== null
      ? rowsTable(
          c.samples.changed,
          `Changed rows: ${c.samples.changed.length} of ${count(c.changed)}, with their values now (the values before are in ${prev}'s files)`,
        )
      : '',
    rowsTable(c.samples.added, `Added rows: ${c.samples.added.length} of ${count(c.added)}`),
    c.samples.removed.length > 0
      ? `<div class="table-wrap"><table class="rows"><caption>Removed rows: ${c.samples.removed.length} of ${count(c.removed)}, by key (their values are in ${prev}'s files)</caption>
<thead><tr><th scope="col">${keyName}</th></tr></thead><tbody>${c.samples.removed.map((k) => `<tr><td>${value(k)}</td></tr>`).join('')}</tbody></table></div>`
      : '',
  ].filter(Boolean);
  if (parts.length === 0) return '';
  return `<h3 id="rows-${esc(o.name)}">Rows that changed</h3>${parts.join('\n')}`;
}

function columnRows(o: OutputQa): string {
  const before = new Map((o.previous?.columns ?? []).map((c) => [c.name, c]));
  const now = new Set(o.current.columns.map((c) => c.name));
  const distinct = (c: ColumnStats) =>
    c.distinct === null
      ? '<span class="muted">\u2014</span>'
      : `${c.distinctEstimated ? '\u2248\u202f' : ''}${count(c.distinct)}`;
  const minmax = (v: string | null, was: string | null | undefined, p: ColumnStats | undefined) =>
    `${v === null ? '<span class="muted">\u2014</span>' : esc(v.length > 40 ? `${v.slice(0, 39)}\u2026` : v)}${
      p && was !== v
        ? `<span class="delta">was ${was === null || was === undefined ? '\u2014' : esc(was.length > 40 ? `${was.slice(0, 39)}\u2026` : was)}</span>`
        : ''
    }`;
  const rows = o.current.columns.map((c) => {
    const p = before.get(c.name);
    const badge = !o.previous
      ? ''
      : !p
        ? ' <span class="badge new">added</span>'
        : p.type !== c.type
          ? ` <span class="badge warn">retyped</span><span class="delta">was ${esc(p.type)}</span>`
          : '';
    return `<tr><th scope="row"><code>${esc(c.name)}</code>${badge}</th><td>${esc(c.type)}</td>
<td class="num">${count(c.nulls)}${deltaHtml(delta(c.nulls, p?.nulls))}</td>
<td class="num">${distinct(c)}${c.distinct !== null && p?.distinct !== null ? deltaHtml(delta(c.distinct, p?.distinct)) : ''}</td>
<td>${minmax(c.min, p?.min, p)}</td><td>${minmax(c.max, p?.max, p)}</td></tr>`;
  });
  for (const p of o.previous?.columns ?? [])
    if (!now.has(p.name))
      rows.push(
        `<tr class="gone"><th scope="row"><code>${esc(p.name)}</code> <span class="badge fail">removed</span></th><td>${esc(p.type)}</td><td class="num">\u2014</td><td class="num">\u2014</td><td>\u2014</td><td>\u2014</td></tr>`,
      );
  const estimated = o.current.columns.some((c) => c.distinctEstimated);
  return `<h3 id="columns-${esc(o.name)}">Columns</h3><div class="table-wrap"><table>
<caption>${o.current.columns.length} column(s)${o.previous ? ', each with its change since the previous version' : ''}${estimated ? '; \u2248 marks distinct counts estimated by PostgreSQL from a sample (the table is large)' : ''}</caption>
<thead><tr><th scope="col">Column</th><th scope="col">Type</th><th scope="col" class="num">Nulls</th><th scope="col" class="num">Distinct</th><th scope="col">Min</th><th scope="col">Max</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table></div>`;
}

function geometry(o: OutputQa): string {
  const g = o.current.geometry;
  if (!g) return '';
  const p = o.previous?.geometry ?? null;
  const bbox = (x: GeometryStats | null) =>
    x?.bbox ? x.bbox.map((v) => decimal(v, 4)).join(', ') : '\u2014';
  const row = (label: string, now: string, was: string | null, d?: Delta) =>
    `<tr><th scope="row">${label}</th><td class="num">${now}</td>${o.previous ? `<td class="num">${was ?? '\u2014'}</td><td class="num">${d ? `<span class="delta ${d.direction}">${esc(d.text)}</span>` : ''}</td>` : ''}</tr>`;
  const types = [...new Set([...Object.keys(g.types), ...Object.keys(p?.types ?? {})])];
  const rows = [
    ...types.map((t) =>
      row(
        `<code>${esc(t)}</code>`,
        count(g.types[t] ?? 0),
        p ? count(p.types[t] ?? 0) : null,
        p ? delta(g.types[t] ?? 0, p.types[t] ?? 0) : undefined,
      ),
    ),
    row('Empty', count(g.empty), p ? count(p.empty) : null, delta(g.empty, p?.empty)),
    row('Invalid', count(g.invalid), p ? count(p.invalid) : null, delta(g.invalid, p?.invalid)),
    row('Vertices', count(g.vertices), p ? count(p.vertices) : null, delta(g.vertices, p?.vertices)),
    row('Bounding box', bbox(g), p ? bbox(p) : null),
    row(
      'Total area',
      area(g.area, g.units),
      p ? area(p.area, p.units) : null,
      delta(g.area, p?.area, (n) => area(n, g.units)),
    ),
    row(
      'Total length',
      length(g.length, g.units),
      p ? length(p.length, p.units) : null,
      delta(g.length, p?.length, (n) => length(n, g.units)),
    ),
  ];
  const crs =
    g.srid === 4326 || g.units === 'metre' ? 'EPSG:4326' : `the units of SRID ${g.srid ?? 'unknown'}`;
  return `<h3 id="geometry-${esc(o.name)}">Geometry</h3><div class="table-wrap"><table class="geometry">
<caption>Column <code>${esc(g.column)}</code>, SRID ${g.srid ?? 'unknown'}; the bounding box in ${crs} (min x, min y, max x, max y); ${g.units === 'metre' ? 'areas and lengths measured on the ellipsoid' : 'areas and lengths in the units of the SRID'}</caption>
<thead><tr><th scope="col">Measure</th><th scope="col" class="num">This version</th>${o.previous ? '<th scope="col" class="num">Previous</th><th scope="col" class="num">Change</th>' : ''}</tr></thead>
<tbody>${rows.join('\n')}</tbody></table></div>`;
}

function mapFigure(o: OutputQa, layer: MapLayer | undefined): string {
  const m = o.map;
  if (!m || !layer) return '';
  const c = o.changes;
  const legend = [
    `<li><span class="swatch" style="background:${PALETTE.unchanged}"></span>${c ? 'unchanged' : 'features'}</li>`,
    ...(c
      ? [
          `<li><span class="swatch" style="background:${PALETTE.changed}"></span>changed</li>`,
          `<li><span class="swatch" style="background:${PALETTE.added}"></span>added</li>`,
        ]
      : []),
  ].join('');
  const drawn = m.sampled
    ? `A sample: ${count(m.drawn)} of ${count(m.features)} features are drawn (the page stays light): ${m.highlighted < (c ? c.added + (c.changed ?? 0) : 0) ? `${count(m.highlighted)} of the changed and added ones` : 'every changed and added one'}, and a repeatable random sample of the rest.`
    : `All ${count(m.drawn)} features are drawn${m.highlighted ? `, ${count(m.highlighted)} of them highlighted` : ''}.`;
  const notes = [
    drawn,
    m.simplified !== null
      ? `Shapes are simplified to ${decimal(m.simplified * 100, 1)}% of each feature's size, so the page stays light; the published files keep every vertex.`
      : '',
    c && c.removed > 0
      ? 'Removed rows are not on the map: their geometry is in the previous version\u2019s files.'
      : '',
  ]
    .filter(Boolean)
    .map((n) => `<span>${esc(n)}</span>`)
    .join(' ');
  const label = `Map of ${o.name}: ${count(m.drawn)} features drawn${m.highlighted ? `, ${count(m.highlighted)} changed or added highlighted` : ''}`;
  return `<h3 id="map-h-${esc(o.name)}">Map</h3><figure class="map-figure">
<div class="map" id="map-${esc(o.name)}" data-qa-map="${esc(o.name)}" data-layer="qa-map-${esc(o.name)}" role="region" aria-label="${esc(label)}"></div>
<figcaption><ul class="legend">${legend}</ul><p>${notes} Country outlines: Natural Earth, 1:110m.</p></figcaption></figure>`;
}

function output(o: OutputQa, r: QaReport, layer: MapLayer | undefined): string {
  const key = o.key ? `key <code>${o.key.map(esc).join(', ')}</code>` : 'no key declared';
  const notes =
    o.notes.length > 0 ? `<ul class="notes">${o.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '';
  const chart = historyChart(r.history, o.name, `chart-${o.name}`);
  return `<section id="output-${esc(o.name)}" aria-labelledby="output-h-${esc(o.name)}">
<h2 id="output-h-${esc(o.name)}">Output <code>${esc(o.name)}</code> <span class="sub">table <code>${esc(o.table)}</code>, ${key}</span></h2>
<div class="overview"><div>${figures(o)}${notes}</div>${chart ? `<figure class="history">${chart}<figcaption>Rows in the last ${r.history.filter((h) => h.rows[o.name] !== undefined).length} version(s); this build on the right${r.status === 'published' ? '' : ', dashed: not published'}.</figcaption></figure>` : ''}</div>
${mapFigure(o, layer)}
${samples(o, r)}
${columnRows(o)}
${geometry(o)}
</section>`;
}

/** The whole page: static HTML that reads without script, and the map drawn by the inlined script. */
export function renderReport(
  r: QaReport,
  layers: ReadonlyMap<string, MapLayer>,
  assets: ReportAssets,
): string {
  const nav = [
    '<li><a href="#summary-h">Summary</a></li>',
    '<li><a href="#checks">Checks</a></li>',
    ...r.outputs.map((o) => `<li><a href="#output-${esc(o.name)}">${esc(o.name)}</a></li>`),
  ].join('');
  const data = [...layers]
    .map(
      ([name, layer]) =>
        `<script type="application/json" id="qa-map-${esc(name)}">${scriptJson(layer.json)}</script>`,
    )
    .join('\n');
  const title = `QA report: ${r.product} ${r.version ?? `run ${r.runId} (not published)`}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${assets.leafletCss}\n${STYLES}</style>
</head>
<body>
<a class="skip" href="#main">Skip to the report</a>
${header(r)}
<nav class="toc" aria-label="Contents"><ul>${nav}</ul></nav>
<main id="main">
${summary(r)}
${checks(r)}
${r.outputs.map((o) => output(o, r, layers.get(o.name))).join('\n')}
</main>
<footer><p>Made by Strata ${esc(PLATFORM_VERSION)} on ${esc(r.engine)} in ${count(r.ms)} ms. The figures are in <code>qa.json</code> beside this page. Rows are compared by the fingerprints of their values (kept in <code>qa-rows/</code> of each version), so no previous version is loaded to compare with.</p></footer>
${layers.size > 0 ? `<script type="application/json" id="qa-world">${scriptJson(assets.world)}</script>` : ''}
${data}
${layers.size > 0 ? `<script>${assets.script.replace(/<\/script/gi, '<\\/script')}</script>` : ''}
</body>
</html>
`;
}
