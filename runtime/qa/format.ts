/** Text made safe to put in HTML, in element content and in quoted attributes. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export const count = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

export const decimal = (n: number, digits = 2): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits });

export interface Delta {
  readonly text: string;
  /** `up`, `down` or `same`: a direction, not a judgement (more rows is not better or worse by itself). */
  readonly direction: 'up' | 'down' | 'same';
}

/** The change from `before` to `now`, signed; undefined with nothing to compare. */
export function delta(
  now: number,
  before: number | null | undefined,
  show: (n: number) => string = count,
): Delta | undefined {
  if (before === null || before === undefined) return undefined;
  const d = now - before;
  if (Math.abs(d) < 1e-9 * Math.max(1, Math.abs(before))) return { text: 'no change', direction: 'same' };
  return d > 0 ? { text: `+${show(d)}`, direction: 'up' } : { text: `\u2212${show(-d)}`, direction: 'down' };
}

/** Square metres as km² (or m² when small); other units as they are. */
export function area(value: number, units: 'metre' | 'srid'): string {
  if (units === 'srid') return `${decimal(value)} square units`;
  return value >= 1e5 ? `${decimal(value / 1e6, 1)} km\u00b2` : `${decimal(value, 0)} m\u00b2`;
}

export function length(value: number, units: 'metre' | 'srid'): string {
  if (units === 'srid') return `${decimal(value)} units`;
  return value >= 1e4 ? `${decimal(value / 1e3, 1)} km` : `${decimal(value, 0)} m`;
}

/** A JSON document made safe inside `<script type="application/json">`: no `</script>` can end it early. */
export const scriptJson = (json: string): string => json.replace(/</g, '\\u003c');
