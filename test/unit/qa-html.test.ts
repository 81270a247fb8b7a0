import { describe, expect, it } from 'vitest';
import { historyChart } from '../../runtime/qa/charts.ts';
import { delta } from '../../runtime/qa/format.ts';
import { renderReport } from '../../runtime/qa/html.ts';
import type { QaReport } from '../../runtime/qa/schema.ts';

const HOSTILE = '<img src=x onerror=alert(1)></script>"\'&';

function report(): QaReport {
  const stats = {
    rows: 3,
    columns: [
      { name: 'id', type: 'integer', nulls: 0, distinct: 3, distinctEstimated: false, min: '1', max: '3' },
      { name: 'note', type: 'text', nulls: 1, distinct: 2, distinctEstimated: true, min: HOSTILE, max: 'z' },
    ],
    geometry: null,
  };
  return {
    format: 'strata.qa/1',
    product: 'notes',
    title: `Notes ${HOSTILE}`,
    status: 'published',
    version: '20260101T000000000Z-abcdef12',
    runId: '20260101T000000000Z-abcdef12',
    builtAt: '2026-01-01T00:00:00.000Z',
    engine: 'pglite',
    previous: { version: '20251231T000000000Z-00000000', builtAt: '2025-12-31T00:00:00.000Z' },
    checks: [
      {
        name: 'notes.sql',
        type: 'sql',
        table: 'out',
        severity: 'warn',
        passed: false,
        count: 1,
        message: '1 offending row(s)',
        sample: [{ note: HOSTILE }],
      },
    ],
    outputs: [
      {
        name: 'out',
        table: 'out',
        key: ['id'],
        current: stats,
        previous: { ...stats, rows: 2, columns: [stats.columns[0]!] },
        changes: {
          basis: 'key',
          added: 1,
          removed: 0,
          changed: 1,
          unchanged: 1,
          matched: 2,
          duplicateKeys: 0,
          samples: { added: [{ id: 3, note: HOSTILE }], changed: [{ id: 2, note: 'b' }], removed: [] },
        },
        notes: [],
        rowList: null,
        map: { features: 3, drawn: 3, highlighted: 2, sampled: false, simplified: null },
        ms: { stats: 1, rows: 1, map: 1 },
      },
    ],
    history: [
      { label: 'a', builtAt: '2025-12-31T00:00:00.000Z', published: true, rows: { out: 2 } },
      { label: 'b', builtAt: '2026-01-01T00:00:00.000Z', published: true, rows: { out: 3 } },
    ],
    ms: 12,
  };
}

const assets = { leafletCss: '.leaflet{}', script: 'window.x = "</script>";', world: '{"type":"Topology"}' };

describe('the QA report page', () => {
  it('shows values from the data as text, never as markup, and keeps data blocks closed', () => {
    // Act
    const html = renderReport(
      report(),
      new Map([
        [
          'out',
          {
            json: `{"columns":["note"],"features":[[0,null,["${'</script><b>'}"]]]}`,
            info: report().outputs[0]!.map!,
          },
        ],
      ]),
      assets,
    );
    // Assess
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;&lt;/script&gt;&quot;&#39;&amp;');
    expect(html.match(/<\/script>/g)).toHaveLength(3);
    expect(html).toContain('\\u003c/script>\\u003cb>');
    expect(html).toContain('window.x = "<\\/script>"');
  });

  it('is marked up for keyboards and screen readers: one h1, captions, labelled regions and charts', () => {
    const html = renderReport(
      report(),
      new Map([['out', { json: '{"columns":[],"features":[]}', info: report().outputs[0]!.map! }]]),
      assets,
    );
    expect(html.match(/<h1>/g)).toHaveLength(1);
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<a class="skip" href="#main">');
    expect(html).toMatch(/<nav class="toc" aria-label="Contents">/);
    expect(html.match(/<table/g)?.length).toBe(html.match(/<caption>/g)?.length);
    expect(html).toMatch(
      /<div class="map" [^>]*role="region" aria-label="Map of out: 3 features drawn, 2 changed or added highlighted"/,
    );
    expect(html).toMatch(/<svg class="chart"[^>]*role="img" aria-labelledby="chart-out-t chart-out-d"/);
    expect(html).toContain("default-src 'none'");
    // A column the previous version did not have is marked as added.
    expect(html).toMatch(/<code>note<\/code> <span class="badge new">added<\/span>/);
  });

  it('writes the rows across versions into the chart for screen readers', () => {
    const svg = historyChart(report().history, 'out', 'c');
    expect(svg).toContain('<desc id="c-d">a, 2025-12-31: 2 rows; b, 2026-01-01: 3 rows</desc>');
    expect(svg.match(/<rect/g)).toHaveLength(2);
  });

  it('signs changes, and says when there is none', () => {
    expect(delta(5, 3)).toEqual({ text: '+2', direction: 'up' });
    expect(delta(3, 5)).toEqual({ text: '\u22122', direction: 'down' });
    expect(delta(3, 3)).toEqual({ text: 'no change', direction: 'same' });
    expect(delta(3, null)).toBeUndefined();
  });
});
