import { PALETTE } from './palette.ts';

/** The report's own styles, inlined after Leaflet's. Contrast of text on its background is at least 4.5:1. */
export const STYLES = `
:root { --ink: #1b2430; --muted: #556272; --line: #dde3ea; --bg: #f4f6f8; --card: #ffffff;
  --accent: ${PALETTE.unchanged}; --up: #1c6b40; --down: #a3301c; }
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--bg); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .86em;
  background: #eef1f4; padding: .05rem .3rem; border-radius: 3px; }
a { color: #1f5b99; }
:focus-visible { outline: 3px solid #e0a100; outline-offset: 2px; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 1rem; top: 1rem; z-index: 2000; background: #fff; padding: .5rem .75rem; border-radius: 4px; }
.inner, main, .toc ul, footer p { max-width: 1180px; margin-left: auto; margin-right: auto; }
header.top { background: #1d2b3a; color: #fff; padding: 1.4rem 2rem 1.2rem; }
header.top code { background: rgba(255,255,255,.12); color: #fff; }
.eyebrow { margin: 0; text-transform: uppercase; letter-spacing: .09em; font-size: .72rem; color: #b3c2d3; }
h1 { margin: .15rem 0 .35rem; font-size: 1.7rem; line-height: 1.25; }
h1 .product { font-weight: 400; color: #b3c2d3; font-size: 1.05rem; margin-left: .4rem; }
.status { margin: .2rem 0 .6rem; }
.meta { display: flex; flex-wrap: wrap; gap: .2rem 2rem; margin: 0; font-size: .85rem; }
.meta div { display: flex; gap: .45rem; }
.meta dt { color: #b3c2d3; }
.meta dd { margin: 0; }
.toc { background: #fff; border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 1100; }
.toc ul { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; padding: .55rem 2rem; margin-top: 0;
  margin-bottom: 0; font-size: .88rem; }
.toc a { text-decoration: none; }
.toc a:hover { text-decoration: underline; }
main { padding: 1.5rem 2rem 2rem; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 1.2rem 1.5rem 1.4rem;
  margin: 0 0 1.5rem; scroll-margin-top: 3rem; }
h2 { font-size: 1.25rem; margin: 0 0 1rem; }
h2 .sub { font-size: .85rem; font-weight: 400; color: var(--muted); margin-left: .5rem; }
h3 { margin: 1.6rem 0 .6rem; font-size: .78rem; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: .06rem .5rem; border-radius: 999px; font-size: .72rem; font-weight: 650;
  letter-spacing: .02em; vertical-align: 1px; }
.badge.pass { background: #dcf1e4; color: #17603a; }
.badge.warn { background: #fff0cf; color: #7a4f00; }
.badge.fail { background: #fbe0dc; color: #9b2617; }
.badge.new { background: #dcefe9; color: #0b5e47; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(230px, 1fr)); gap: 1rem; }
.card { display: block; border: 1px solid var(--line); border-radius: 8px; padding: .85rem 1rem; color: inherit;
  text-decoration: none; background: #fbfcfd; }
.card:hover { border-color: #9fb4cc; }
.card .label { display: block; font-size: .8rem; color: var(--muted); font-family: ui-monospace, Menlo, Consolas, monospace; }
.card .big { font-size: 1.7rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .unit { color: var(--muted); }
.card .delta { display: inline; margin-left: .35rem; }
ul.mini { list-style: none; padding: 0; margin: .35rem 0 0; display: flex; flex-wrap: wrap; gap: .1rem .9rem;
  font-size: .84rem; color: var(--muted); }
.swatch { display: inline-block; width: .75rem; height: .75rem; border-radius: 50%; margin-right: .35rem;
  vertical-align: -1px; }
.overview { display: grid; grid-template-columns: minmax(0, 1fr) auto; gap: 1.5rem 2rem; align-items: start; }
dl.figures { display: flex; flex-wrap: wrap; gap: .5rem 2.2rem; margin: 0; }
dl.figures dt { font-size: .8rem; color: var(--muted); }
dl.figures dd { margin: 0; font-size: 1.45rem; font-weight: 650; font-variant-numeric: tabular-nums; }
dl.figures dd .delta { display: inline; font-size: .85rem; margin-left: .35rem; font-weight: 500; }
.changes-bar { display: block; width: 100%; height: 12px; margin: .9rem 0 .2rem; border-radius: 3px; background: #eef1f4; }
.notes { margin: .8rem 0 0; padding-left: 1.1rem; color: var(--muted); font-size: .86rem; }
figure { margin: 0; }
figure.history figcaption { font-size: .78rem; color: var(--muted); max-width: 420px; }
.chart { display: block; max-width: 100%; height: auto; }
.chart .axis { font-size: 11px; fill: var(--muted); }
.chart .value { font-size: 11px; font-weight: 650; fill: var(--ink); }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.map { height: 460px; border: 1px solid var(--line); border-radius: 8px; background: #dbe7f1; }
.map-figure figcaption { font-size: .84rem; color: var(--muted); }
.map-figure figcaption p { margin: .3rem 0 0; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; padding: 0; margin: .6rem 0 0; color: var(--ink); }
.table-wrap { overflow-x: auto; margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; font-size: .86rem; }
caption { text-align: left; color: var(--muted); font-size: .8rem; padding: 0 0 .45rem; caption-side: top; }
th, td { padding: .38rem .6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { font-size: .76rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600;
  background: #f7f9fb; border-bottom: 1px solid #cfd7e0; }
tbody th { font-weight: 500; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.delta { display: block; font-size: .75rem; color: var(--muted); font-weight: 400; }
.delta.up { color: var(--up); }
.delta.down { color: var(--down); }
tr.gone th, tr.gone td { color: var(--muted); background: #fcf6f7; }
tr.sample td { border-bottom: 1px solid var(--line); padding-top: 0; }
details summary { cursor: pointer; color: #1f5b99; font-size: .84rem; }
details[open] summary { margin-bottom: .5rem; }
table.rows td { white-space: nowrap; max-width: 22rem; overflow: hidden; text-overflow: ellipsis; }
table.rows thead th { text-transform: none; letter-spacing: 0; font-family: ui-monospace, Menlo, Consolas, monospace; }
.null { color: #8a95a3; font-style: italic; }
.qa-popup-status { margin: 0 0 .3rem; font-weight: 650; text-transform: uppercase; font-size: .7rem; letter-spacing: .05em; }
.leaflet-popup-content table { font-size: .8rem; }
.leaflet-popup-content th, .leaflet-popup-content td { padding: .1rem .4rem; }
.leaflet-container { font: inherit; }
footer { padding: 0 2rem 2.5rem; color: var(--muted); font-size: .8rem; }
@media (max-width: 860px) {
  .overview { grid-template-columns: minmax(0, 1fr); }
  header.top, main, footer { padding-left: 1rem; padding-right: 1rem; }
  section { padding: 1rem; }
}
@media print { .toc { position: static; } .map { break-inside: avoid; } }
`;
