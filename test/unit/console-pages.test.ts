// The console's judgements that pages only print: a product's freshness against its schedule, and the spans of
// time people read. The pages themselves are tested through the app (test/integration/console.test.ts).
import { describe, expect, it } from 'vitest';
import { freshness } from '../../runtime/console/reads.ts';
import type { LatestPointer } from '../../runtime/publish/manifest.ts';
import { span } from '../../runtime/web/format.ts';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const HOUR = 3600;

const publishedAgo = (seconds: number): LatestPointer => ({
  product: 'p',
  version: 'v',
  manifest: 'products/p/v/manifest.json',
  publishedAt: new Date(NOW - seconds * 1000).toISOString(),
});

describe("a product's freshness", () => {
  it("is on time until its schedule's longest gap and the hour of grace have passed, then late", () => {
    // Act
    const inTime = freshness('rate(1 day)', publishedAgo(24 * HOUR + HOUR), NOW);
    const late = freshness('rate(1 day)', publishedAgo(24 * HOUR + HOUR + 1), NOW);
    // Assess
    expect(inTime).toEqual({ state: 'on time', ageSeconds: 25 * HOUR, periodSeconds: 24 * HOUR });
    expect(late).toMatchObject({ state: 'late', ageSeconds: 25 * HOUR + 1 });
  });

  it('takes the widest gap of a cron schedule: weekdays only get their weekend', () => {
    // Act: published Friday 06:00, read Monday 05:00 (71 h later), on a weekdays-at-06:00 schedule.
    const monday = Date.parse('2026-11-23T05:00:00Z');
    const friday = { ...publishedAgo(0), publishedAt: '2026-11-20T06:00:00.000Z' };
    const f = freshness('0 6 * * 1-5', friday, monday);
    // Assess
    expect(f).toEqual({ state: 'on time', ageSeconds: 71 * HOUR, periodSeconds: 72 * HOUR });
  });

  it('says when a product has no schedule, or was never published', () => {
    // Act
    const unscheduled = freshness(undefined, publishedAgo(90 * 24 * HOUR), NOW);
    const never = freshness('rate(1 hour)', undefined, NOW);
    // Assess
    expect(unscheduled).toEqual({ state: 'no schedule', ageSeconds: 90 * 24 * HOUR, periodSeconds: null });
    expect(never).toEqual({ state: 'never published', ageSeconds: null, periodSeconds: HOUR });
  });
});

describe('spans of time for people', () => {
  it('reads in the largest unit that keeps it short', () => {
    expect([850, 12_400, 185_000, 7_800_000, 3 * 86_400_000 + 4 * 3_600_000].map(span)).toEqual([
      '850 ms',
      '12.4 s',
      '3 min 5 s',
      '2 h 10 min',
      '3 days 4 h',
    ]);
  });
});
