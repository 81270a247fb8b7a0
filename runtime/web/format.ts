import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { Actor } from '../archive/current.ts';
import type { RunStatus } from '../runs/schema.ts';

/** A piece of a page, escaped where it was made: `html` templates escape every value put into them. */
export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** `2026-11-23 17:41 UTC` in a `<time>` element that carries the exact instant. */
export function when(iso: string | null | undefined, seconds = false): Html {
  if (!iso) return html`<span class="muted">—</span>`;
  const text = `${iso.replace('T', ' ').slice(0, seconds ? 19 : 16)} UTC`;
  return html`<time datetime="${iso}" class="nowrap">${text}</time>`;
}

/** A span of time for people: `850 ms`, `12.4 s`, `3 min 5 s`, `2 h 10 min`, `3 days 4 h`. */
export function span(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m - h * 60} min`;
  const d = Math.floor(h / 24);
  return `${d} days ${h - d * 24} h`;
}

/** How long from `from` to `to` (or to now, for what is still going). */
export function took(from: string | null, to: string | null, now = Date.now()): string {
  if (!from) return '—';
  return span((to ? Date.parse(to) : now) - Date.parse(from));
}

export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  for (; v >= 1024 && u < units.length - 1; u++) v /= 1024;
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

export type Tone = 'ok' | 'bad' | 'warn' | 'info' | 'neutral';

/** A word in a coloured pill: the word carries the meaning, the colour only repeats it. */
export const badge = (text: string, tone: Tone): Html => html`<span class="badge ${tone}">${text}</span>`;

const STATUS_TONE: Record<RunStatus, Tone> = {
  succeeded: 'ok',
  failed: 'bad',
  interrupted: 'warn',
  running: 'info',
  queued: 'neutral',
};

export const statusBadge = (status: RunStatus): Html => badge(status, STATUS_TONE[status]);

/** "partner acme (upload)", "ann (cli)", "schedule". */
export function actor(a: Actor): string {
  if (a.partner) return `partner ${a.partner} (${a.trigger})`;
  if (a.user) return `${a.user} (${a.trigger})`;
  return a.trigger;
}

/** `a1b2c3d4e5f6…` with the whole hash for whoever copies it. */
export const sha = (hex: string): Html => html`<code title="${hex}">${hex.slice(0, 12)}…</code>`;
