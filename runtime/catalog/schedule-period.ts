import { Cron } from 'croner';

const UNIT_SECONDS = { minute: 60, hour: 3600, day: 86_400 } as const;

/**
 * The longest a catalog schedule (`rate(...)` or 5-field cron, UTC) leaves between two firings: how long a
 * product on it may go without a new version before it counts as stale. For cron, the widest gap between
 * its next 400 firings (or a year of them), so a weekdays-only schedule gets its weekend.
 */
export function schedulePeriodSeconds(expression: string): number {
  const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression.trim());
  if (rate) return Number(rate[1]) * UNIT_SECONDS[rate[2] as keyof typeof UNIT_SECONDS];
  const cron = new Cron(expression, { timezone: 'UTC', paused: true });
  const from = new Date(Date.UTC(2025, 0, 1));
  const until = Date.UTC(2026, 0, 8);
  let previous = cron.nextRun(from);
  if (!previous) throw new Error(`schedule "${expression}" never fires`);
  let widest = 0;
  for (let i = 0; i < 400; i++) {
    const next = cron.nextRun(previous);
    if (!next || next.getTime() > until) break;
    widest = Math.max(widest, next.getTime() - previous.getTime());
    previous = next;
  }
  if (widest === 0) throw new Error(`schedule "${expression}" fires less than once a year`);
  return widest / 1000;
}
