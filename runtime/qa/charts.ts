import { escapeHtml as esc } from './format.ts';
import { PALETTE } from './palette.ts';
import type { HistoryEntry } from './schema.ts';

/** 12.3k, 4.5M: short enough for an axis. */
export function compact(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${+(n / 1e9).toFixed(1)}G`;
  if (abs >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (abs >= 1e4) return `${+(n / 1e3).toFixed(1)}k`;
  return n.toLocaleString('en-US');
}

/** A round number at or above `n`, for the top of an axis. */
function niceCeiling(n: number): number {
  if (n <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * power >= n) return step * power;
  return 10 * power;
}

const day = (iso: string) => iso.slice(5, 10);

/**
 * Rows of one output across the last versions, as an inline SVG bar chart: this build's bar in the accent
 * colour, a build that was not published drawn hollow. Its title and description carry every figure for
 * screen readers.
 */
export function historyChart(history: readonly HistoryEntry[], output: string, id: string): string {
  const bars = history.filter((h) => h.rows[output] !== undefined);
  if (bars.length === 0) return '';
  const width = 420;
  const height = 150;
  const left = 52;
  const right = 8;
  const top = 14;
  const bottom = 26;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = niceCeiling(Math.max(...bars.map((b) => b.rows[output]!)));
  const slot = plotW / bars.length;
  const barW = Math.min(34, slot * 0.72);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const grid = [0, max / 2, max]
    .map(
      (v) =>
        `<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" class="grid"/>` +
        `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" class="axis">${esc(compact(v))}</text>`,
    )
    .join('');
  const rects = bars
    .map((b, i) => {
      const v = b.rows[output]!;
      const x = left + slot * i + (slot - barW) / 2;
      const h = Math.max(1, (v / max) * plotH);
      const current = i === bars.length - 1;
      const fill = current ? PALETTE.unchanged : '#a9bcd3';
      const shape = b.published
        ? `<rect x="${x}" y="${y(v)}" width="${barW}" height="${h}" fill="${fill}" rx="2"/>`
        : `<rect x="${x + 1}" y="${y(v) + 1}" width="${barW - 2}" height="${Math.max(1, h - 2)}" fill="none" stroke="${PALETTE.changed}" stroke-width="2" stroke-dasharray="4 3" rx="2"/>`;
      const label = current
        ? `<text x="${x + barW / 2}" y="${y(v) - 4}" text-anchor="middle" class="value">${esc(compact(v))}</text>`
        : '';
      return `<g><title>${esc(`${b.label}${b.published ? '' : ' (not published)'}: ${v.toLocaleString('en-US')} rows`)}</title>${shape}${label}</g>`;
    })
    .join('');
  const first = bars[0]!;
  const last = bars[bars.length - 1]!;
  const xLabels =
    `<text x="${left}" y="${height - 6}" class="axis">${esc(day(first.builtAt))}</text>` +
    (bars.length > 1
      ? `<text x="${width - right}" y="${height - 6}" text-anchor="end" class="axis">${esc(day(last.builtAt))}</text>`
      : '');
  const desc = bars
    .map(
      (b) =>
        `${b.label}${b.published ? '' : ' (not published)'}, ${b.builtAt.slice(0, 10)}: ${b.rows[output]!.toLocaleString('en-US')} rows`,
    )
    .join('; ');
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${id}-t ${id}-d">
<title id="${id}-t">Rows of ${esc(output)} in the last ${bars.length} version(s)</title>
<desc id="${id}-d">${esc(desc)}</desc>${grid}${rects}${xLabels}</svg>`;
}

export interface ChangeParts {
  readonly unchanged: number | null;
  readonly changed: number | null;
  readonly added: number;
  readonly removed: number;
}

/** One bar split into unchanged, changed, added and removed rows, each part as wide as its share. */
export function changesBar(parts: ChangeParts, label: string): string {
  const segments: [string, number, string][] = [
    ['unchanged', parts.unchanged ?? 0, '#c9d6e6'],
    ['changed', parts.changed ?? 0, PALETTE.changed],
    ['added', parts.added, PALETTE.added],
    ['removed', parts.removed, PALETTE.removed],
  ];
  const total = segments.reduce((a, [, n]) => a + n, 0);
  if (total === 0) return '';
  let x = 0;
  const rects = segments
    .filter(([, n]) => n > 0)
    .map(([name, n, color]) => {
      // Every non-empty part stays visible, however small its share.
      const w = Math.max(0.8, (n / total) * 100);
      const r = `<rect x="${x.toFixed(3)}" y="0" width="${w.toFixed(3)}" height="10" fill="${color}"><title>${name}: ${n.toLocaleString('en-US')}</title></rect>`;
      x += w;
      return r;
    })
    .join('');
  return `<svg class="changes-bar" viewBox="0 0 ${Math.max(100, x).toFixed(3)} 10" preserveAspectRatio="none" role="img" aria-label="${esc(label)}">${rects}</svg>`;
}
