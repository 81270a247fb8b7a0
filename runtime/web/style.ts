/**
 * The one stylesheet of the console's and the portal's pages, inlined (no request for it). Colours keep text at WCAG AA contrast or
 * better; focus is a thick dark outline on a yellow ground that no background hides.
 */
export const PAGE_CSS = `
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
