import { UsageError } from '../errors.ts';

/** A `--since` of the command line (runs replay, cost): `90m`, `2h`, `3d`, `1w` before `now`, or an ISO time. */
export function parseSince(text: string, now = new Date()): Date {
  const m = /^(\d+)\s*(m|min|h|d|w)$/.exec(text.trim());
  if (m) {
    const unit = { m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'm'];
    return new Date(now.getTime() - Number(m[1]) * unit);
  }
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new UsageError(
      `--since "${text}" is neither a duration (90m, 2h, 3d, 1w) nor a time (2026-11-22T10:00Z)`,
    );
  return new Date(t);
}
